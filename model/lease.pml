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
#ifndef N
#define N        3      /* clients: 2 or 3 */
#endif
#ifndef TTL
#define TTL      3      /* lease ttl, ticks */
#endif
#define DRIFT    1      /* drift margin: ceil(0.01 * ttl) + 2 in the code */
#define RENEW    1      /* renew this long after the last confirmed t_send */
#define TIMEOUT  2      /* request timeout (local ticks) */
#define MAXDELAY 2      /* a message is delivered within this many ticks of being sent, or lost */
#define RETRY    1      /* a refused or failed candidate tries again after this long */
#ifndef MAXT
#define MAXT     7      /* the horizon: real time stops here */
#endif
#define MAXTOK   4      /* acquisition attempts in a run (each one a fresh ownership token) */
/* A client's clock is now - 1 or now (skew 0 or 1 below, SKEW = 1): over any window two
 * readings differ from real time by at most one tick apart = DRIFT, the rate bound the drift
 * margin covers (docs/safety.md, A1). From one tick to the next it may stand still (slow) or
 * move two ticks (fast). */
#define SKEW     1
#define NMSG     2      /* messages in flight at once */
#define QUAR     255    /* the quarantine lease's token */
#ifndef MAXPAUSE
#define MAXPAUSE 1      /* client pauses in a run */
#endif
#ifndef MAXLOSS
#define MAXLOSS  1      /* messages lost outright in a run (others are lost by delay) */
#endif

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
  byte tok;       /* ownership token of the lease held or asked for (0: none) */
  byte term;      /* fencing term of the lease held */
  byte dl;        /* trusted until lc reaches dl (local time) */
  byte ts;        /* t_send (local) of the request in flight */
  byte conf;      /* t_send (local) of the last confirmed acquire/renew */
  byte sk;        /* 0: the clock reads now - 1; 1: it reads now */
  byte seq;       /* number of the request in flight, mod 2 */
  byte next;      /* a follower campaigns again from this local time */
  bool paused;    /* takes no step (GC, SIGSTOP, a blocked event loop) while time goes on */
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
bool resigned = false; /* a resignation happened (one a run) */
byte pauses = 0;       /* pauses so far */
byte losses = 0;       /* messages lost so far */
bool dead[MAXTOK + 1]; /* tokens whose lease ended at the store (expired, released, replaced, lost) */
byte quiet = 0;        /* LIVENESS: ticks since some client last trusted a lease */

#define live          (holder != 0 && now < exp)
#define LC(i)         (now + c[i].sk - SKEW)   /* client i's monotonic clock: now - 1 or now */
#define trusts(i)     ((c[i].mode == LEADER || c[i].mode == RENEWING) && LC(i) < c[i].dl)

/* Safety A: at most one client trusts a lease at any instant. Not in scope
 * under FAULT_FAILOVER (a fail-over to a replica that missed renewals elects
 * a second leader without waitReplicas: must-fire SU3 on real servers). */
#if defined(FAULT_FAILOVER)
#define safetyA() skip
#else
#if N == 3
#define safetyA() assert(!(trusts(0) && trusts(1)) && !(trusts(0) && trusts(2)) && !(trusts(1) && trusts(2)))
#else
#define safetyA() assert(!(trusts(0) && trusts(1)))
#endif
#endif

/* Safety C (no resurrection): a lease that ended at the store never comes back live. A restore
 * from a snapshot or a fail-over to a stale replica brings old leases back by nature: not
 * checked there (the holder's deadline rule and the downtime keep A). */
#if defined(FAULT_SNAPSHOT) || defined(FAULT_FAILOVER)
#define safetyC() skip
#else
#define safetyC() assert(!(live && holder != QUAR && dead[holder]))
#endif

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
  holder = 0; exp = 0; lterm = 0
}

inline clear(s) {
  net[s].kind = NONE; net[s].cl = 0; net[s].tok = 0; net[s].val = 0; net[s].born = 0; net[s].seq = 0
}

inline put(k, i, tk, q, s) {
  net[s].kind = k; net[s].cl = i; net[s].tok = tk; net[s].val = 0; net[s].born = now; net[s].seq = q
}

/* Into the first free slot (the caller checked hasSlot()); `q` is the request number. */
inline send(k, i, tk, q) {
  if
  :: net[0].kind == NONE -> put(k, i, tk, q, 0)
  :: net[0].kind != NONE && net[1].kind == NONE -> put(k, i, tk, q, 1)
  fi
}

#define hasSlot() (net[0].kind == NONE || net[1].kind == NONE)

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
  m.kind = NONE; m.cl = 0; m.tok = 0; m.val = 0; m.born = 0; m.seq = 0
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
  /* Fields a follower does not use are zeroed: states that differ only there are one state. */
  c[i].mode = FOLLOWER; c[i].tok = 0; c[i].term = 0; c[i].dl = 0; c[i].ts = 0; c[i].conf = 0;
  c[i].next = LC(i) + RETRY
}

/* A reply reaches client i. Stale replies (another token, or nobody waiting) are ignored;
 * a late grant is handed back (acquire.ts: the timeout's late handler releases it). */
inline receive(i, m) {
  if
  :: m.kind == ACQ_OK && c[i].mode == ACQUIRING && m.tok == c[i].tok ->
     /* acquire.ts: a grant whose deadline passed in flight is handed back */
     if
     :: LC(i) < c[i].ts + TTL - DRIFT ->
        c[i].mode = LEADER; c[i].term = m.val; c[i].conf = c[i].ts;
#if MUTANT == 1
        c[i].dl = LC(i) + TTL - DRIFT                /* mutant 1: from the reply's arrival */
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
     :: LC(i) >= c[i].dl || LC(i) >= c[i].ts + TTL - DRIFT -> lose(i)
     :: else ->
        c[i].mode = LEADER; c[i].conf = c[i].ts;
#if MUTANT == 1
        c[i].dl = LC(i) + TTL - DRIFT
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
  :: m.kind != REL -> m.kind = NONE; m.cl = 0; m.tok = 0; m.val = 0; m.born = 0; m.seq = 0
  :: else -> m.val = 0; m.seq = 0
  fi
}

/* The steps a running client takes as soon as they are due (its timers): time does not move on
 * past them unless the client is paused. */
#define campaignDue(i) (c[i].mode == FOLLOWER && LC(i) >= c[i].next && ntok < MAXTOK && hasSlot())
#define acqTimeout(i)  (c[i].mode == ACQUIRING && LC(i) >= c[i].ts + TIMEOUT)
#define renewDue(i)    (c[i].mode == LEADER && LC(i) >= c[i].conf + RENEW && LC(i) < c[i].dl && hasSlot())
#define renewTimeout(i) (c[i].mode == RENEWING && LC(i) >= c[i].ts + TIMEOUT && LC(i) < c[i].dl)
#define stepDown(i)    ((c[i].mode == LEADER || c[i].mode == RENEWING) && LC(i) >= c[i].dl)
#define due(i)         (campaignDue(i) || acqTimeout(i) || renewDue(i) || renewTimeout(i) || stepDown(i))
#define canResign(i)   (c[i].mode == LEADER && LC(i) < c[i].dl && hasSlot() && !resigned)
#define canStep(i)     (!c[i].paused && (due(i) || canResign(i)))

inline clientStep(i) {
  if
  /* campaign.ts: a follower attempts; a fresh token and t_send read before the send */
  :: campaignDue(i) ->
     ntok++; c[i].tok = ntok; c[i].ts = LC(i); c[i].next = 0;
     c[i].seq = 1 - c[i].seq; c[i].mode = ACQUIRING; send(ACQ, i, c[i].tok, c[i].seq)
  /* withTimeout: no answer in time, the outcome unknown; a late grant is handed back */
  :: acqTimeout(i) -> lose(i)
  /* lease-keeper.ts: renew renewMs after the last confirmed t_send */
  :: renewDue(i) ->
     c[i].ts = LC(i); c[i].mode = RENEWING;
     c[i].seq = 1 - c[i].seq; send(RENEWQ, i, c[i].tok, c[i].seq)
  /* a renewal that timed out is retried until the deadline (not now: ambiguous) */
  :: renewTimeout(i) ->
#if MUTANT == 6
     c[i].conf = c[i].ts;
     c[i].dl = c[i].ts + TTL - DRIFT;                  /* mutant 6: taken as a success */
#endif
     c[i].ts = 0; c[i].mode = LEADER
  /* the keeper's deadline timer: step down */
  :: stepDown(i) -> lose(i)
  /* resign()/stop(): trust ends at once, then compare-and-delete (once a run: bounds the state) */
  :: canResign(i) ->
     resigned = true; send(REL, i, c[i].tok, 0); lose(i)
  fi
}

/* ---- time --------------------------------------------------------------------------------- */

/* Each real tick a client's clock advances 1 tick, or 0 (slow) or 2 (fast) within its band. */
inline advance(i) {
  if
  :: skip                                              /* at the rate of real time */
  :: c[i].sk == 1 -> c[i].sk = 0                       /* slow: stands still this tick */
  :: c[i].sk == 0 -> c[i].sk = 1                       /* fast: two ticks */
  fi
}

inline expire(k) {
  if
  :: net[k].kind != NONE && net[k].born + MAXDELAY < now -> clear(k)  /* too late: lost */
  :: else -> skip
  fi
}

/* Time moves on only once no running client has a step due (LIVENESS: and every message has
 * been delivered: no loss, no delay beyond a tick). */
#define ready(i) (c[i].paused || !due(i))
#ifdef LIVENESS
#define delivered (net[0].kind == NONE && net[1].kind == NONE)
#else
#define delivered true
#endif
#if N == 3
#define settled (ready(0) && ready(1) && ready(2) && delivered)
#else
#define settled (ready(0) && ready(1) && delivered)
#endif

init {
  byte i;
  for (i : 0 .. N - 1) { c[i].sk = SKEW }
  do
  /* real time advances; messages past their delay bound are lost */
  :: atomic { now < MAXT && settled ->
       now++;
       if
       :: holder != 0 && holder != QUAR && now >= exp -> dead[holder] = true
       :: else -> skip
       fi;
       advance(0); advance(1);
#if N == 3
       advance(2);
#endif
       expire(0); expire(1);
#ifdef LIVENESS
       /* Bounded response: some client trusts a lease within TTL + 3 * MAXDELAY + 2 ticks
        * of the last time one did (a lease left by a holder that stepped down expires, then
        * a campaign, its request and reply). */
       if
       :: trusts(0) || trusts(1) || (N == 3 && trusts(N - 1)) -> quiet = 0
       :: else -> quiet++
       fi;
       assert(quiet <= TTL + 3 * MAXDELAY + 2 || ntok >= MAXTOK);
#endif
       check()
     }
  /* a client takes a step (or none: a pause is a client that does not step while time moves) */
  :: atomic { canStep(0) -> clientStep(0); check() }
  :: atomic { canStep(1) -> clientStep(1); check() }
#if N == 3
  :: atomic { canStep(2) -> clientStep(2); check() }
#endif
#ifndef LIVENESS
  /* a client pauses (at most MAXPAUSE times a run), and resumes */
  :: atomic { !c[0].paused && pauses < MAXPAUSE -> c[0].paused = true; pauses++ }
  :: atomic { !c[1].paused && pauses < MAXPAUSE -> c[1].paused = true; pauses++ }
#if N == 3
  :: atomic { !c[2].paused && pauses < MAXPAUSE -> c[2].paused = true; pauses++ }
  :: atomic { c[2].paused -> c[2].paused = false }
#endif
  :: atomic { c[0].paused -> c[0].paused = false }
  :: atomic { c[1].paused -> c[1].paused = false }
#endif
  /* the store applies a request; a reply reaches its client */
  :: atomic { net[0].kind != NONE && net[0].kind <= REL && now >= downUntil -> deliver(net[0]); check() }
  :: atomic { net[1].kind != NONE && net[1].kind <= REL && now >= downUntil -> deliver(net[1]); check() }
  :: atomic { net[0].kind > REL -> receive(net[0].cl, net[0]); check() }
  :: atomic { net[1].kind > REL -> receive(net[1].cl, net[1]); check() }
#ifndef LIVENESS
  /* the network loses a message (at most MAXLOSS a run; past its delay bound it is lost anyway) */
  :: atomic { net[0].kind != NONE && losses < MAXLOSS -> clear(0); losses++ }
  :: atomic { net[1].kind != NONE && losses < MAXLOSS -> clear(1); losses++ }
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
