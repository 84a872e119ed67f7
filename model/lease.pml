/*
 * The tenure lease protocol as a Promela model for spin (issue 22): three
 * clients, one store, a lossy network that delays and reorders, a fenced
 * resource, and the store faults of docs/safety.md's guarantees table.
 * One process; every step is one atomic guarded action (TLA+ style), so the
 * state is the global variables alone. Time is discrete: `now` is real time
 * and the store's clock; each client has its own monotonic clock `lc`.
 *
 * Configurations (-D at compile time; model/run.sh runs them all):
 *   FAULT_LOSS      the store may restart once with every key lost
 *                   (counter missing), with the quarantine rule on
 *   FAULT_SNAPSHOT  the store may restart once from an older snapshot
 *                   (stale leases and counter), down for at least TTL
 *   FAULT_FAILOVER  the store may fail over once to an asynchronous replica
 *                   that missed the latest writes (no waitReplicas): terms
 *                   only (safety A is out of scope there, as in the table)
 *   LIVENESS        no loss, no pauses: clients act before time moves on;
 *                   checks that a leader exists within a bounded time
 * Mutants (-DMUTANT=n): each weakens one rule; model/run.sh expects spin to
 * find a counter-example for each (see docs/safety.md, "The model").
 *   1 deadline from the reply's arrival, not from t_send
 *   2 no drift margin
 *   3 a renewal that extends an expired lease (re-creates it)
 *   4 term rule counter + 1 without the server-time floor (with FAULT_SNAPSHOT)
 *   5 release by name, without comparing the ownership token
 *   6 a timed-out renewal taken as a success
 */

#ifndef MUTANT
#define MUTANT 0
#endif

/* Bounds: the smallest that still show every mutant (docs/safety.md). */
#define N        3      /* clients */
#define TTL      4      /* lease ttl, ticks */
#define DRIFT    1      /* drift margin: ceil(0.01 * ttl) + 2 in the code; here one tick */
#define RENEW    2      /* renew this long after the last confirmed t_send */
#define TIMEOUT  2      /* request timeout (local ticks) */
#define MAXDELAY 2      /* a message is delivered within this many ticks of being sent, or lost */
#define RETRY    1      /* a refused or failed candidate tries again after this long */
#ifndef MAXT
#define MAXT     9      /* the horizon: real time stops here */
#endif
#define MAXTOK   5      /* acquisition attempts in a run (each one a fresh ownership token) */
#define SKEW     1      /* a client's clock is at most this far from real time */
#define NMSG     3      /* messages in flight at once */
#define QUAR     255    /* the quarantine lease's token */

/* Client modes. */
#define FOLLOWER  0
#define ACQUIRING 1
#define LEADER    2
#define RENEWING  3

/* Message kinds: requests, and the replies that replace them in their slot. */
#define NONE      0
#define ACQ       1
#define RENEWQ    2
#define REL       3
#define ACQ_OK    4
#define ACQ_HELD  5
#define RENEW_OK  6
#define RENEW_NO  7

typedef Client {
  byte mode;
  byte lc;        /* local monotonic clock */
  byte tok;       /* ownership token of the lease held or asked for (0: none) */
  byte term;      /* fencing term of the lease held */
  byte dl;        /* trusted until lc reaches dl (local time) */
  byte ts;        /* t_send (local) of the request in flight */
  byte conf;      /* t_send (local) of the last confirmed acquire/renew */
  byte next;      /* a follower campaigns again from this local time */
  byte sk;        /* skew + SKEW: lc - now + SKEW, in 0..2*SKEW */
  byte skSend;    /* skew + SKEW when the request in flight was sent */
  byte skConf;    /* skew + SKEW when the last confirmed request was sent */
  byte seq;       /* number of the request in flight, mod 4 */
};

typedef Msg {
  byte kind;
  byte cl;        /* the client */
  byte tok;
  byte val;       /* term of ACQ_OK */
  byte born;      /* real time it was sent (delivered by born + MAXDELAY or lost) */
  byte seq;       /* the client's request number (a reply answers only its own request) */
};

Client c[N];
Msg net[NMSG];
byte now = 0;

/* The store (src/lock/redis/scripts/*.lua, src/lock/postgres/sql/*.sql). */
byte holder = 0;   /* token of the lease (0: none); a lease is live while now < exp */
byte exp = 0;      /* expiry on the store's clock */
byte lterm = 0;    /* the lease's term */
byte counter = 0;  /* the term counter */
bool missing = false; /* the counter key is missing (lost with the data): acquire.lua's INCR gives 1 */
byte t = 0;        /* scratch for a term being issued (reset to 0 after use) */
byte lastGrant = 0;/* store time of the last grant: at most one grant a tick (below) */
byte ntok = 0;     /* tokens issued */
bool faulted = false;
/* A snapshot (FAULT_SNAPSHOT) and an asynchronous replica (FAULT_FAILOVER). */
byte sHolder, sExp, sTerm, sCounter;
bool sTaken = false;
byte downUntil = 0;
/* Ghosts for the properties. */
byte maxGranted = 0;   /* the highest term ever granted (survives every fault) */
byte resMax = 0;       /* the fenced resource: the highest term it accepted */
bool dead[MAXTOK + 1]; /* tokens whose lease ended at the store (expired, released, replaced, lost) */
byte quiet = 0;        /* LIVENESS: ticks since some client last trusted a lease */

#define live          (holder != 0 && now < exp)
#define trusts(i)     ((c[i].mode == LEADER || c[i].mode == RENEWING) && c[i].lc < c[i].dl)

/* Safety A: at most one client trusts a lease at any instant. Not in scope
 * under FAULT_FAILOVER (a fail-over to a replica that missed renewals elects
 * a second leader without waitReplicas: must-fire SU3 on real servers). */
#if defined(FAULT_FAILOVER)
#define safetyA() skip
#else
#define safetyA() assert(!(trusts(0) && trusts(1)) && !(trusts(0) && trusts(2)) && !(trusts(1) && trusts(2)))
#endif

/* Safety C (no resurrection): a lease that ended at the store never comes back live. */
#define safetyC() assert(!(live && holder != QUAR && dead[holder]))

inline check() {
  safetyA();
  safetyC()
}

/* The lease of `holder` ends at the store (expiry is lazy: marked when seen). */
inline endLease() {
  if
  :: holder != 0 && holder != QUAR -> dead[holder] = true
  :: else -> skip
  fi;
  holder = 0
}

inline put(k, i, tk, q, s) {
  net[s].kind = k; net[s].cl = i; net[s].tok = tk; net[s].val = 0; net[s].born = now; net[s].seq = q
}

/* Into the first free slot (the caller checked hasSlot()); `q` is the request number. */
inline send(k, i, tk, q) {
  if
  :: net[0].kind == NONE -> put(k, i, tk, q, 0)
  :: net[0].kind != NONE && net[1].kind == NONE -> put(k, i, tk, q, 1)
  :: net[0].kind != NONE && net[1].kind != NONE && net[2].kind == NONE -> put(k, i, tk, q, 2)
  fi
}

#define hasSlot() (net[0].kind == NONE || net[1].kind == NONE || net[2].kind == NONE)

/* ---- the store: one request applied atomically --------------------------------------- */

/* acquire.lua / acquire.sql: grant if nobody holds a live lease; term = max(counter + 1, TIME). */
inline storeAcquire(m) {
  if
  :: live -> m.kind = ACQ_HELD
  :: !live && now > lastGrant ->  /* a grant takes time: the store's clock advances between two */
     if
     :: holder != 0 && now >= exp -> endLease()
     :: else -> skip
     fi;
#if MUTANT == 4
     t = counter + 1;                                 /* mutant 4: no server-time floor */
#else
     t = (counter + 1 > now -> counter + 1 : now);    /* acquire.lua: max(counter + 1, TIME) */
#endif
     lastGrant = now;
#ifdef FAULT_LOSS
     if
     :: missing ->                                    /* acquire.lua: quarantine when the counter was missing */
        missing = false; counter = t; holder = QUAR; exp = now + TTL; lterm = t;
        m.kind = ACQ_HELD
     :: else ->
#endif
        assert(t > maxGranted);                       /* Safety B: terms strictly increase */
        maxGranted = t;
        counter = t; holder = m.tok; exp = now + TTL; lterm = t;
        m.kind = ACQ_OK; m.val = t
#ifdef FAULT_LOSS
     fi
#endif
     ;
     t = 0
  :: !live && now == lastGrant -> m.kind = ACQ_HELD    /* busy this tick: refused, retried */
  fi;
  m.born = now
}

/* renew.lua / renew.sql: extend only a live lease with the same token. */
inline storeRenew(m) {
#if MUTANT == 3
  if
  :: holder == m.tok ->                                /* mutant 3: extends it even after expiry */
     exp = now + TTL; m.kind = RENEW_OK
  :: else -> m.kind = RENEW_NO
  fi;
#else
  if
  :: live && holder == m.tok -> exp = now + TTL; m.kind = RENEW_OK
  :: else -> m.kind = RENEW_NO
  fi;
#endif
  m.born = now
}

/* release.lua / release.sql: compare-and-delete on the token. */
inline storeRelease(m) {
#if MUTANT == 5
  if
  :: live -> endLease()                                 /* mutant 5: release by name */
  :: else -> skip
  fi;
#else
  if
  :: live && holder == m.tok -> endLease()
  :: else -> skip
  fi;
#endif
  m.kind = NONE
}

inline deliver(m) {
  if
  :: m.kind == ACQ -> storeAcquire(m)
  :: m.kind == RENEWQ -> storeRenew(m)
  :: m.kind == REL -> storeRelease(m)
  fi
}

/* ---- a client (src/lock/lease-keeper.ts, src/lock/acquire.ts, src/election/campaign.ts) -- */

inline lose(i) {
  c[i].mode = FOLLOWER; c[i].next = c[i].lc + RETRY
}

/* A reply reaches client i. Stale replies (another token, or nobody waiting) are ignored;
 * a late grant is handed back (acquire.ts: the timeout's late handler releases it). */
inline receive(i, m) {
  if
  :: m.kind == ACQ_OK && c[i].mode == ACQUIRING && m.tok == c[i].tok ->
     /* acquire.ts: a grant whose deadline passed in flight is handed back */
     if
     :: c[i].lc < c[i].ts + TTL - DRIFT ->
        c[i].mode = LEADER; c[i].term = m.val; c[i].conf = c[i].ts; c[i].skConf = c[i].skSend;
#if MUTANT == 1
        c[i].dl = c[i].lc + TTL - DRIFT                /* mutant 1: from the reply's arrival */
#elif MUTANT == 2
        c[i].dl = c[i].ts + TTL                        /* mutant 2: no drift margin */
#else
        c[i].dl = c[i].ts + TTL - DRIFT                /* lease-keeper.ts: t_send + ttl - drift */
#endif
     :: else -> m.kind = REL; m.born = now; lose(i)   /* releaseQuietly */
     fi
  :: m.kind == ACQ_OK && !(c[i].mode == ACQUIRING && m.tok == c[i].tok) ->
     m.kind = REL; m.born = now                       /* a late grant: handed back */
  :: m.kind == ACQ_HELD && c[i].mode == ACQUIRING && m.tok == c[i].tok -> lose(i)
  :: m.kind == RENEW_OK && c[i].mode == RENEWING && m.tok == c[i].tok && m.seq == c[i].seq ->
     /* lease-keeper.ts #renew: validity that ran out never comes back */
     if
     :: c[i].lc >= c[i].dl || c[i].lc >= c[i].ts + TTL - DRIFT -> lose(i)
     :: else ->
        c[i].mode = LEADER; c[i].conf = c[i].ts; c[i].skConf = c[i].skSend;
#if MUTANT == 1
        c[i].dl = c[i].lc + TTL - DRIFT
#elif MUTANT == 2
        c[i].dl = c[i].ts + TTL
#else
        c[i].dl = c[i].ts + TTL - DRIFT
#endif
     fi
  :: m.kind == RENEW_NO && c[i].mode == RENEWING && m.tok == c[i].tok && m.seq == c[i].seq ->
     lose(i)                                          /* expired / stolen */
  :: else -> skip                                     /* stale: ignored */
  fi;
  if
  :: m.kind != REL -> m.kind = NONE
  :: else -> skip
  fi
}

inline clientStep(i) {
  if
  /* campaign.ts: a follower attempts; a fresh token and t_send read before the send */
  :: c[i].mode == FOLLOWER && c[i].lc >= c[i].next && ntok < MAXTOK && hasSlot() ->
     ntok++; c[i].tok = ntok; c[i].ts = c[i].lc; c[i].skSend = c[i].sk;
     c[i].seq = (c[i].seq + 1) % 4; c[i].mode = ACQUIRING; send(ACQ, i, c[i].tok, c[i].seq)
  /* withTimeout: no answer in time, the outcome unknown; a late grant is handed back */
  :: c[i].mode == ACQUIRING && c[i].lc >= c[i].ts + TIMEOUT -> lose(i)
  /* lease-keeper.ts: renew renewMs after the last confirmed t_send */
  :: c[i].mode == LEADER && c[i].lc >= c[i].conf + RENEW && c[i].lc < c[i].dl && hasSlot() ->
     c[i].ts = c[i].lc; c[i].skSend = c[i].sk; c[i].mode = RENEWING;
     c[i].seq = (c[i].seq + 1) % 4; send(RENEWQ, i, c[i].tok, c[i].seq)
  /* a renewal that timed out is retried until the deadline (not now: ambiguous) */
  :: c[i].mode == RENEWING && c[i].lc >= c[i].ts + TIMEOUT && c[i].lc < c[i].dl ->
#if MUTANT == 6
     c[i].conf = c[i].ts; c[i].skConf = c[i].skSend;
     c[i].dl = c[i].ts + TTL - DRIFT;                  /* mutant 6: taken as a success */
#endif
     c[i].mode = LEADER
  /* the keeper's deadline timer: step down */
  :: (c[i].mode == LEADER || c[i].mode == RENEWING) && c[i].lc >= c[i].dl -> lose(i)
  /* resign()/stop(): trust ends at once, then compare-and-delete */
  :: c[i].mode == LEADER && c[i].lc < c[i].dl && hasSlot() ->
     lose(i); send(REL, i, c[i].tok, 0)
  /* act on the fenced resource while trusting (checked on the clock at call time) */
  :: trusts(i) && c[i].term > resMax -> resMax = c[i].term
  fi
}

/* ---- time --------------------------------------------------------------------------------- */

/* A client's clock advances 0, 1 or 2 ticks per real tick, staying within SKEW of real time
 * and drifting at most DRIFT from where it was at each send whose deadline it still uses
 * (the rate bound: over one ttl the clocks differ by at most the drift margin). */
#define skOk(i, s) (s >= 0 && s <= 2 * SKEW && \
  s + DRIFT >= c[i].skConf && s + DRIFT >= c[i].skSend && \
  s <= c[i].skConf + DRIFT && s <= c[i].skSend + DRIFT)

inline advance(i) {
  if
  :: skOk(i, c[i].sk) -> c[i].lc++                     /* at the rate of real time */
  :: c[i].sk > 0 && skOk(i, c[i].sk - 1) -> c[i].sk--  /* slow: stands still this tick */
  :: skOk(i, c[i].sk + 1) -> c[i].lc = c[i].lc + 2; c[i].sk++  /* fast */
  fi
}

inline expire(k) {
  if
  :: net[k].kind != NONE && net[k].born + MAXDELAY < now -> net[k].kind = NONE  /* too late: lost */
  :: else -> skip
  fi
}

#ifdef LIVENESS
/* No pauses: time moves on only once no client has a step due and every message is delivered. */
#define due(i) ((c[i].mode == FOLLOWER && c[i].lc >= c[i].next && ntok < MAXTOK) || \
  (c[i].mode == ACQUIRING && c[i].lc >= c[i].ts + TIMEOUT) || \
  (c[i].mode == LEADER && c[i].lc >= c[i].conf + RENEW && c[i].lc < c[i].dl) || \
  (c[i].mode == RENEWING && c[i].lc >= c[i].ts + TIMEOUT && c[i].lc < c[i].dl) || \
  ((c[i].mode == LEADER || c[i].mode == RENEWING) && c[i].lc >= c[i].dl))
#define settled (!due(0) && !due(1) && !due(2) && net[0].kind == NONE && net[1].kind == NONE && net[2].kind == NONE)
#else
#define settled true
#endif

init {
  byte i;
  for (i : 0 .. N - 1) { c[i].sk = SKEW; c[i].skSend = SKEW; c[i].skConf = SKEW; c[i].lc = SKEW }
  do
  /* real time advances; messages past their delay bound are lost */
  :: atomic { now < MAXT && settled ->
       now++;
       if
       :: holder != 0 && holder != QUAR && now >= exp -> dead[holder] = true
       :: else -> skip
       fi;
       advance(0); advance(1); advance(2);
       expire(0); expire(1); expire(2);
#ifdef LIVENESS
       /* Bounded response: some client trusts a lease within TTL + 3 * MAXDELAY + 2 ticks
        * of the last time one did (a lease left by a holder that stepped down expires, then
        * a campaign, its request and reply). */
       if
       :: trusts(0) || trusts(1) || trusts(2) -> quiet = 0
       :: else -> quiet++
       fi;
       assert(quiet <= TTL + 3 * MAXDELAY + 2 || ntok >= MAXTOK);
#endif
       check()
     }
  /* a client takes a step (or none: a pause is a client that does not step while time moves) */
  :: atomic { clientStep(0); check() }
  :: atomic { clientStep(1); check() }
  :: atomic { clientStep(2); check() }
  /* the store applies a request; a reply reaches its client */
  :: atomic { net[0].kind != NONE && net[0].kind <= REL && now >= downUntil -> deliver(net[0]); check() }
  :: atomic { net[1].kind != NONE && net[1].kind <= REL && now >= downUntil -> deliver(net[1]); check() }
  :: atomic { net[2].kind != NONE && net[2].kind <= REL && now >= downUntil -> deliver(net[2]); check() }
  :: atomic { net[0].kind > REL -> receive(net[0].cl, net[0]); check() }
  :: atomic { net[1].kind > REL -> receive(net[1].cl, net[1]); check() }
  :: atomic { net[2].kind > REL -> receive(net[2].cl, net[2]); check() }
#ifndef LIVENESS
  /* the network loses a message */
  :: atomic { net[0].kind != NONE -> net[0].kind = NONE }
  :: atomic { net[1].kind != NONE -> net[1].kind = NONE }
  :: atomic { net[2].kind != NONE -> net[2].kind = NONE }
#endif
#ifdef FAULT_LOSS
  /* a restart without persistence: every key lost, the counter missing */
  :: atomic { !faulted -> faulted = true; endLease(); counter = 0; missing = true; check() }
#endif
#ifdef FAULT_SNAPSHOT
  /* a snapshot of the store, later restored after the store was down for TTL */
  :: atomic { !sTaken -> sTaken = true; sHolder = holder; sExp = exp; sTerm = lterm; sCounter = counter }
  :: atomic { sTaken && !faulted && now + TTL <= MAXT ->
       faulted = true; endLease(); downUntil = now + TTL;
       holder = sHolder; exp = sExp; lterm = sTerm; counter = sCounter;
       check() }
#endif
#ifdef FAULT_FAILOVER
  /* asynchronous replication: the replica copies the primary at some moments only */
  :: atomic { !faulted -> sTaken = true; sHolder = holder; sExp = exp; sTerm = lterm; sCounter = counter }
  :: atomic { sTaken && !faulted ->
       faulted = true; endLease();
       holder = sHolder; exp = sExp; lterm = sTerm; counter = sCounter;
       check() }
#endif
  :: else -> break
  od
}
