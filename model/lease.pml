/*
 * The tenure lease protocol as a Promela model for spin (issue 22): N clients
 * (3 by default), one store, a network that delays, reorders and loses
 * messages, a fenced resource, and the store faults of docs/safety.md's
 * guarantees table. One process; every step is one atomic guarded action,
 * so a state is the global variables alone.
 *
 * Time is discrete, and every duration is a relative timer: a client's
 * deadline and renewal timers count its own clock's ticks, the store's expiry
 * counts the store's. Messages carry no age: the network may hold any message
 * for any time (or lose it), which is weaker than any delay bound, so safety
 * is checked under every delay. Ownership tokens are recycled once nothing
 * refers to them. So without TERMS the state space is finite and the search
 * covers runs of any length (not a bounded horizon).
 *
 * TERMS adds the fencing terms: the store's TIME, its term counter, the
 * terms clients hold and the fenced resource. Only the order of those values
 * matters to every rule that reads them (max, >, and x + 1 > y, which is
 * x >= y), so after every step they are renumbered 2, 4, 6, … in order (0,
 * a missing counter, stays 0): a finite space again, for runs of any length.
 * The gaps of 2 keep a counter + 1 apart from the next value, as terms that
 * are microseconds apart are. Terms never influence a decision of a client
 * or of the store other than through the term rule and the resource, so
 * leaving them out of the A and C searches loses nothing.
 *
 * Clocks (docs/safety.md, assumption A1): over any window from a t_send to
 * the deadline measured from it, a client's clock lags real time by at most
 * DRIFT ticks: on a tick of real time it advances by 1, or by 0 (a slow tick)
 * while every window it is measuring has lagged less than DRIFT. A fast clock
 * only brings a deadline earlier and is not modelled; the store's clock is
 * real time (the drift bound is relative).
 *
 * Configurations (-D at compile time; model/run.sh runs them all):
 *   (none)          faults of the network and pauses only
 *   FAULT_LOSS      the store restarts once with every key lost (counter
 *                   missing); the quarantine rule is on
 *   FAULT_SNAPSHOT  the store restarts once from an older snapshot (stale
 *                   leases and counter), down for TTL first (docs/safety.md)
 *   FAULT_FAILOVER  the store fails over once to an asynchronous replica that
 *                   missed writes (no waitReplicas): A is out of scope there,
 *                   as in the guarantees table; B and the fence are checked
 *   LIVENESS        one pause (or crash) and one loss, no store faults, every
 *                   other message delivered before time moves on, followers
 *                   retry on time: a leader within TTL + 1 ticks
 *   TERMS           with terms (see above): B and the fence are checked
 * Mutants (-DMUTANT=n): each weakens one rule; model/run.sh expects spin to
 * find a counter-example for each.
 *   1 the deadline measured from the reply's arrival, not from t_send
 *   2 no drift margin
 *   3 a renewal that re-creates an expired lease
 *   4 term rule counter + 1 without the server-time floor (FAULT_SNAPSHOT)
 *   5 release by name, without comparing the ownership token
 *   6 a timed-out renewal taken as a success
 *   7 no quarantine after the counter was lost (FAULT_LOSS)
 *   8 the snapshot's restore answers at once, not after TTL (FAULT_SNAPSHOT)
 *   9 a follower refused once never campaigns again (LIVENESS)
 */

#ifndef MUTANT
#define MUTANT 0
#endif
#ifndef N
#define N        3
#endif
#define TTL      4      /* lease ttl, ticks */
#define DRIFT    1      /* the drift margin (lease-timing.ts: driftMs) */
#define RENEW    1      /* renew this long after the last confirmed t_send */
#define TIMEOUT  1      /* request timeout, local ticks (< TTL - DRIFT, as lease-timing.ts requires) */
#define RETRY    1      /* a follower campaigns again this long after a refusal or a loss */
#define MAXTOK   7      /* ownership tokens in use at once (a fresh one per attempt, recycled) */
#define QUAR     15     /* the quarantine lease's token (never a client's) */
#ifndef MAXPAUSE
#define MAXPAUSE 1      /* client pauses in a run */
#endif
#ifndef MAXLOSS
#define MAXLOSS  1      /* messages lost in a run */
#endif
#define NMSG     2      /* messages in flight at once */

/* Client modes. */
#define FOLLOWER  0
#define ACQUIRING 1
#define LEADER    2
#define RENEWING  3

/* Message kinds: requests, and the replies that take their slot. */
#define NONE      0
#define ACQ       1
#define RENEWQ    2
#define REL       3
#define ACQ_OK    4
#define ACQ_HELD  5
#define RENEW_OK  6
#define RENEW_NO  7

typedef Client {
  unsigned mode : 2;
  unsigned tok : 4;      /* ownership token held or asked for (0: none) */
#ifdef TERMS
  byte term;             /* fencing term of the lease held */
#endif
  unsigned dl : 3;       /* local ticks left until the deadline: trusts while > 0 */
  unsigned age : 3;      /* local ticks since t_send of the request in flight */
  unsigned renewIn : 2;  /* local ticks until the next renewal */
  unsigned wait : 2;     /* a follower campaigns again after this many local ticks */
  unsigned slipDl : 1;   /* slow ticks since the t_send the deadline was measured from */
  unsigned slipReq : 1;  /* slow ticks since the in-flight request's t_send */
  unsigned seq : 1;      /* number of the request in flight, mod 2 */
  bit paused;            /* takes no step (GC, SIGSTOP, a blocked event loop); its clock runs */
};

typedef Msg {
  unsigned kind : 3;
  unsigned cl : 2;       /* the client */
  unsigned tok : 4;
#ifdef TERMS
  byte val;              /* ACQ_OK: the term */
#endif
  unsigned seq : 1;      /* the request number it answers */
};

Client c[N];
Msg net[NMSG];

/* The store (src/lock/redis/scripts/*.lua, src/lock/postgres/sql/*.sql, src/lock/etcd/etcd-store.ts). */
unsigned holder : 4;     /* token of the lease (0: none); expired leases are removed at once */
unsigned expIn : 3;      /* store ticks until it expires */
bit missing = 0;         /* the counter key was lost with the data (INCR would give 1) */
bit faulted = 0;
/* TERMS with FAULT_SNAPSHOT or FAULT_FAILOVER: a snapshot (or the replica's copy) was taken
 * (its counter is sCounter). */
bit sTaken = 0;
unsigned downIn : 3;     /* the store answers nothing for this many more ticks */
unsigned pauses : 2;
unsigned losses : 2;
/* Ghost for C: the token of the lease the store granted last, 0 once that lease ended. Only a
 * grant sets it; so a lease live under another token came back by some other way. */
unsigned liveTok : 4;
byte quiet = 0;          /* LIVENESS: ticks since some client last trusted a lease */
#ifdef TERMS
byte counter = 0;        /* the term counter */
/* The store's TIME, in the same units as terms: it moves on past each term it issues (a
 * script takes time: acquire.lua "Terms"). Real time passing between grants only widens
 * gaps, which the order-only encoding of terms leaves out. Physical time, not data: a
 * restart or a fail-over does not take it back (acquire.lua "Assumptions"). */
byte clock = 2;
byte sCounter = 0;
byte fence = 0;          /* the fenced resource: the highest term it accepted */
byte maxGranted = 0;     /* ghost: the highest term ever granted, across every fault (B) */
byte t = 0;              /* scratch: a term being issued (0 again after use) */
#endif

#define trusts(i)   ((c[i].mode == LEADER || c[i].mode == RENEWING) && c[i].dl > 0)
#define running(i)  (!c[i].paused)
#if N == 3
#define anyTrusts (trusts(0) || trusts(1) || trusts(2))
#else
#define anyTrusts (trusts(0) || trusts(1))
#endif

/* ---- properties ------------------------------------------------------------------------ */

/* A: at no instant do two clients trust a lease. Out of scope under FAULT_FAILOVER (a replica
 * that missed renewals elects a second leader without waitReplicas: must-fire SU3). */
#if defined(FAULT_FAILOVER)
#define safetyA() skip
#elif N == 3
#define safetyA() assert(!(trusts(0) && trusts(1)) && !(trusts(0) && trusts(2)) && !(trusts(1) && trusts(2)))
#else
#define safetyA() assert(!(trusts(0) && trusts(1)))
#endif

/* C: a lease that ended at the store never becomes live again. A restore or a fail-over
 * brings back stale data by nature: not checked there. */
#if defined(FAULT_SNAPSHOT) || defined(FAULT_FAILOVER)
#define safetyC() skip
#else
#define safetyC() assert(holder == 0 || holder == QUAR || holder == liveTok)
#endif

#ifdef LIVENESS
bit held = 0;            /* LIVENESS: some client trusted a lease since the last tick */
#define progress() if :: anyTrusts -> held = 1 :: else -> skip fi
#else
#define progress() skip
#endif
#define check() safetyA(); safetyC(); progress()

/* ---- the store ------------------------------------------------------------------------- */

/* The lease ends at the store (expiry, release, replacement, loss). */
inline endLease() {
  holder = 0; expIn = 0; liveTok = 0
}

#ifdef TERMS
#define clearVal(s) net[s].val = 0
#else
#define clearVal(s) skip
#endif

inline clearMsg(s) {
  net[s].kind = NONE; net[s].cl = 0; net[s].tok = 0; clearVal(s); net[s].seq = 0
}

/* acquire.lua (PTTL, then INCR and TIME), acquire.sql (greatest(term + 1, µs)), etcd-store.ts
 * acquire (a transaction on the name's revision): grant only if no lease is live; the term is
 * max(counter + 1, TIME), written back to the counter. */
inline storeAcquire(s) {
  if
  :: holder != 0 -> net[s].kind = ACQ_HELD                  /* held (or quarantined) */
  :: holder == 0 ->
#ifdef TERMS
#if MUTANT == 4
     t = counter + 1;                                        /* mutant 4: no server-time floor */
#else
     t = (counter + 1 > clock -> counter + 1 : clock);      /* acquire.lua: max(counter + 1, TIME) */
#endif
     clock = (clock > t -> clock : t) + 1;                   /* TIME moves on past the script */
     counter = t;
#endif
#if defined(FAULT_LOSS) && MUTANT != 7
     if
     :: missing ->                                           /* acquire.lua: the counter was missing: */
        missing = 0; holder = QUAR; expIn = TTL;             /* quarantine the name for a lease period */
        net[s].kind = ACQ_HELD
     :: else ->
#endif
#ifdef TERMS
        assert(t > maxGranted);                              /* B: terms strictly increase */
        maxGranted = t;
        net[s].val = t;
#endif
        holder = net[s].tok; liveTok = holder; expIn = TTL;
        net[s].kind = ACQ_OK
#if defined(FAULT_LOSS) && MUTANT != 7
     fi
#endif
#ifdef TERMS
     ;
     t = 0
#endif
  fi
}

/* renew.lua: PEXPIRE only if the key's token is the caller's (an expired key is gone, so it is
 * never re-created); renew.sql: UPDATE … WHERE token = $1 AND expires_at > now(). */
inline storeRenew(s) {
  if
  :: holder != 0 && holder == net[s].tok -> expIn = TTL; net[s].kind = RENEW_OK
#if MUTANT == 3
  :: holder == 0 -> holder = net[s].tok; expIn = TTL; net[s].kind = RENEW_OK  /* mutant 3: re-created */
#endif
  :: else -> net[s].kind = RENEW_NO
  fi
}

/* release.lua / release.sql: compare-and-delete on the token. */
inline storeRelease(s) {
#if MUTANT == 5
  if
  :: holder != 0 -> endLease()                               /* mutant 5: release by name */
  :: else -> skip
  fi;
#else
  if
  :: holder != 0 && holder == net[s].tok -> endLease()
  :: else -> skip
  fi;
#endif
  clearMsg(s)
}

inline apply(s) {
  if
  :: net[s].kind == ACQ -> storeAcquire(s)
  :: net[s].kind == RENEWQ -> storeRenew(s)
  :: net[s].kind == REL -> storeRelease(s)
  fi
}

/* ---- a client (src/lock/acquire.ts, src/lock/lease-keeper.ts, src/election/campaign.ts) -- */

inline send(k, i, tk, q) {
  if
  :: net[0].kind == NONE -> net[0].kind = k; net[0].cl = i; net[0].tok = tk; net[0].seq = q
  :: net[0].kind != NONE && net[1].kind == NONE -> net[1].kind = k; net[1].cl = i; net[1].tok = tk; net[1].seq = q
  fi
}
#define hasSlot (net[0].kind == NONE || net[1].kind == NONE)
#define seqInFlight(tk, q) ((net[0].kind != NONE && net[0].tok == tk && net[0].seq == q) || (net[1].kind != NONE && net[1].tok == tk && net[1].seq == q))

#ifdef TERMS
#define setTerm(i, v) c[i].term = v
#else
#define setTerm(i, v) skip
#endif

/* Trust ends (the keeper's #lose): a follower again, fields it does not use zeroed. */
inline lose(i) {
  c[i].mode = FOLLOWER; c[i].tok = 0; setTerm(i, 0); c[i].dl = 0; c[i].age = 0;
  c[i].renewIn = 0; c[i].slipDl = 0; c[i].slipReq = 0; c[i].seq = 0; c[i].wait = RETRY
}

/* A confirmed acquire or renewal: lease-keeper.ts, deadline = t_send + ttl - drift (the
 * constructor, and #renew: "const deadline = sentAt + ttlMs - driftMs"); the window it
 * measures began at t_send, so its slow ticks so far count. */
inline confirm(i) {
#if MUTANT == 1
  c[i].dl = TTL - DRIFT; c[i].slipDl = 0;                    /* mutant 1: from the reply's arrival */
#elif MUTANT == 2
  c[i].dl = TTL - c[i].age; c[i].slipDl = c[i].slipReq;      /* mutant 2: no drift margin */
#else
  c[i].dl = TTL - DRIFT - c[i].age; c[i].slipDl = c[i].slipReq;
#endif
  c[i].renewIn = (c[i].age >= RENEW -> 0 : RENEW - c[i].age);
  c[i].mode = LEADER; c[i].age = 0; c[i].slipReq = 0
}

/* A reply reaches running client i. */
inline receive(s, i) {
  if
  /* acquire.ts: granted; a grant whose deadline passed in flight is handed back */
  :: net[s].kind == ACQ_OK && c[i].mode == ACQUIRING && net[s].tok == c[i].tok ->
     if
     :: c[i].age < TTL - DRIFT -> setTerm(i, net[s].val); confirm(i); clearMsg(s)
     :: else -> net[s].kind = REL; clearVal(s); lose(i)
     fi
  /* a grant nobody waits for (timed out, or superseded): withTimeout's late handler releases it */
  :: net[s].kind == ACQ_OK && !(c[i].mode == ACQUIRING && net[s].tok == c[i].tok) ->
     net[s].kind = REL; clearVal(s)
  :: net[s].kind == ACQ_HELD && c[i].mode == ACQUIRING && net[s].tok == c[i].tok ->
     lose(i); clearMsg(s);
#if MUTANT == 9
     c[i].wait = 3                                           /* mutant 9: refused once, never again */
#else
     skip
#endif
  /* lease-keeper.ts #renew: a reply at or after the deadline loses; the deadline only moves later */
  :: net[s].kind == RENEW_OK && c[i].mode == RENEWING && net[s].tok == c[i].tok && net[s].seq == c[i].seq ->
     if
     :: c[i].dl == 0 || c[i].age >= TTL - DRIFT -> lose(i)
     :: else -> confirm(i)
     fi;
     clearMsg(s)
  /* a renewal that succeeded after the keeper ended: the late handler releases the key */
  :: net[s].kind == RENEW_OK && c[i].tok != net[s].tok -> net[s].kind = REL
  :: net[s].kind == RENEW_NO && c[i].mode == RENEWING && net[s].tok == c[i].tok && net[s].seq == c[i].seq ->
     lose(i); clearMsg(s)                                    /* expired or taken: 'lost' */
  :: else -> clearMsg(s)                                      /* stale: ignored */
  fi
}

/* A token nothing refers to (a client, a message, the store, the snapshot): the attempt's
 * fresh ownership token (0: none free). The lowest such, so equal situations are one state. */
#define used(k) (holder == k || net[0].tok == k || net[1].tok == k || c[0].tok == k || c[1].tok == k || (N == 3 && c[N - 1].tok == k))
inline freshToken() {
  tk = 1;
  do
  :: tk <= MAXTOK && used(tk) -> tk++
  :: tk > MAXTOK -> tk = 0; break
  :: else -> break
  od
}
byte tk = 0;             /* scratch: a fresh token (0 again after use) */

#define campaignDue(i)   (c[i].mode == FOLLOWER && c[i].wait == 0 && hasSlot)
#define acqTimeout(i)    (c[i].mode == ACQUIRING && c[i].age >= TIMEOUT)
#define renewDue(i)      (c[i].mode == LEADER && c[i].renewIn == 0 && c[i].dl > 0 && hasSlot)
#define renewTimeout(i)  (c[i].mode == RENEWING && c[i].age >= TIMEOUT && c[i].dl > 0)
#define stepDown(i)      ((c[i].mode == LEADER || c[i].mode == RENEWING) && c[i].dl == 0)
/* A follower may campaign whenever its retry delay is over, and need not (the code waits for
 * the holder's remaining time or a notification): campaigns are not forced before time moves
 * on, except under LIVENESS, whose followers retry on time. */
#ifdef LIVENESS
#define due(i)           (campaignDue(i) || acqTimeout(i) || renewDue(i) || renewTimeout(i) || stepDown(i))
#else
#define due(i)           (acqTimeout(i) || renewDue(i) || renewTimeout(i) || stepDown(i))
#endif
#define canStep(i)       (due(i) || campaignDue(i) || canResign(i) || canWrite(i))
#define canResign(i)     ((c[i].mode == LEADER || c[i].mode == RENEWING) && c[i].dl > 0 && hasSlot)
#ifdef TERMS
/* A write to the fenced resource by a client that trusts its lease (only the first write of a
 * term changes anything: later ones are the same state). Outside FAULT_FAILOVER a trusting
 * client is never fenced out (it follows from A and B; checked here). */
#define canWrite(i)      (trusts(i) && c[i].term != fence)
inline write(i) {
  if
  :: c[i].term > fence -> fence = c[i].term
  :: else ->
#ifndef FAULT_FAILOVER
     assert(false)                                           /* a trusted holder was fenced out */
#else
     skip                                                    /* the fence refuses a stale leader */
#endif
  fi
}
#else
#define canWrite(i)      false
#define write(i)         skip
#endif

inline clientStep(i) {
  if
  /* campaign.ts: a follower attempts; a fresh token, t_send read before the send */
  :: campaignDue(i) ->
     freshToken();
     assert(tk != 0);                                        /* MAXTOK covers every reference */
     c[i].tok = tk; tk = 0; c[i].age = 0; c[i].slipReq = 0;
     c[i].seq = 0; c[i].mode = ACQUIRING; send(ACQ, i, c[i].tok, 0)    /* matched by its fresh token */
  /* withTimeout: no answer in time, outcome unknown (a late grant is handed back) */
  :: acqTimeout(i) -> lose(i)
  /* lease-keeper.ts #scheduleRenew: renewMs after the last confirmed t_send */
  :: renewDue(i) ->
     c[i].age = 0; c[i].slipReq = 0; c[i].mode = RENEWING; c[i].renewIn = 0;
     /* a number no message of this lease in flight has: a late reply to an earlier renewal is
      * never taken for this one's (in the code each request has its own promise) */
     c[i].seq = (seqInFlight(c[i].tok, 0) -> 1 : 0); send(RENEWQ, i, c[i].tok, c[i].seq)
  /* a renewal that timed out is ambiguous: retried until the deadline (#renew's catch) */
  :: renewTimeout(i) ->
#if MUTANT == 6
     confirm(i)                                              /* mutant 6: taken as a success */
#else
     c[i].mode = LEADER; c[i].age = 0; c[i].slipReq = 0; c[i].renewIn = 0
#endif
  /* the keeper's deadline timer: step down */
  :: stepDown(i) -> lose(i)
  /* resign()/release(): trust ends at once, then compare-and-delete (also with a renewal in flight) */
  :: canResign(i) -> send(REL, i, c[i].tok, 0); lose(i)
  /* the leader's work: a fenced write */
  :: canWrite(i) -> write(i)
  fi
}

/* ---- time ------------------------------------------------------------------------------ */

/* One tick of client i's clock (or none: a slow tick, within the drift bound). */
inline tickClient(i) {
  if
  :: true ->
     if :: c[i].dl > 0 -> c[i].dl-- :: else -> skip fi;
     if :: c[i].mode == ACQUIRING || c[i].mode == RENEWING -> if :: c[i].age < TTL - DRIFT -> c[i].age++ :: else -> skip fi
        :: else -> skip fi;
     if :: c[i].renewIn > 0 -> c[i].renewIn-- :: else -> skip fi;
     if :: c[i].wait > 0 && !(MUTANT == 9 && c[i].wait == 3) -> c[i].wait-- :: else -> skip fi
  :: ((c[i].dl > 0 || c[i].mode == ACQUIRING || c[i].mode == RENEWING)
      && (c[i].dl == 0 || c[i].slipDl < DRIFT)
      && (!(c[i].mode == ACQUIRING || c[i].mode == RENEWING) || c[i].slipReq < DRIFT)) ->
     if :: c[i].dl > 0 -> c[i].slipDl = 1 :: else -> skip fi;
     if :: c[i].mode == ACQUIRING || c[i].mode == RENEWING -> c[i].slipReq = 1 :: else -> skip fi
  fi
}

/* Time moves on once no running client has a step due (its timers fire on time unless it is
 * paused). LIVENESS: and once every message has been delivered. */
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

/* ---- symmetry ------------------------------------------------------------------------- */

/* Ownership tokens are pure identities, and the two message slots are interchangeable: after
 * every step the slots are put in a fixed order and the tokens renumbered in order of first
 * appearance, so states that differ only in those are one state (a symmetry reduction; it
 * merges only states with the same behaviours, so it hides nothing). */
byte map[MAXTOK + 1];    /* scratch, all 0 between steps */
byte nxt = 0;            /* scratch */
Msg tmp;                 /* scratch */

#define MAPREF(x) if :: (x != 0 && x != QUAR && map[x] == 0) -> map[x] = nxt; nxt++ :: else -> skip fi
#define REMAP(x)  if :: (x != 0 && x != QUAR) -> x = map[x] :: else -> skip fi
#define slotKey(k) (net[k].kind * 64 + net[k].cl * 16 + net[k].seq * 8)
#ifdef TERMS
#define copyVal(a, b) a.val = b.val
#else
#define copyVal(a, b) skip
#endif
#ifdef TERMS
#define clearTmpVal() tmp.val = 0
#else
#define clearTmpVal() skip
#endif
#define copyMsg(a, b) a.kind = b.kind; a.cl = b.cl; a.tok = b.tok; a.seq = b.seq; copyVal(a, b)

/* Clients are interchangeable too: they are sorted by their state (the messages' client
 * fields follow), then tokens are renumbered in the new order. */
Client tc;               /* scratch */
byte who[N];             /* scratch: who[p] = the client that was at position p */
byte pos[N];             /* scratch: the inverse */
#define ckey(i) (c[i].mode * 8192 + c[i].dl * 1024 + c[i].age * 128 + c[i].renewIn * 32 + c[i].wait * 8 + c[i].slipDl * 4 + c[i].slipReq * 2 + c[i].paused)
#ifdef TERMS
#define copyTerm(a, b) a.term = b.term
#else
#define copyTerm(a, b) skip
#endif
#ifdef TERMS
#define clearTcTerm() tc.term = 0
#else
#define clearTcTerm() skip
#endif
#define copyClient(a, b) a.mode = b.mode; a.tok = b.tok; a.dl = b.dl; a.age = b.age; a.renewIn = b.renewIn; a.wait = b.wait; a.slipDl = b.slipDl; a.slipReq = b.slipReq; a.seq = b.seq; a.paused = b.paused; copyTerm(a, b)
#define sortPair(a, b) if :: ckey(a) < ckey(b) -> copyClient(tc, c[a]); copyClient(c[a], c[b]); copyClient(c[b], tc); k = who[a]; who[a] = who[b]; who[b] = k :: else -> skip fi

#ifdef TERMS
/* Term values, renumbered 2, 4, 6, … in order (see the header); 0 stays 0. */
byte least = 0;          /* scratch */
byte rank = 0;           /* scratch */
#define LOW(x)  if :: (x > 0 && x < 64 && (least == 0 || x < least)) -> least = x :: else -> skip fi
#define MOVE(x) if :: x == least -> x = 64 + rank :: else -> skip fi
#define BACK(x) if :: x >= 64 -> x = x - 64 :: else -> skip fi
#if N == 3
#define EACH(F) F(counter); F(sCounter); F(maxGranted); F(fence); F(clock); F(c[0].term); F(c[1].term); F(c[2].term); F(net[0].val); F(net[1].val)
#else
#define EACH(F) F(counter); F(sCounter); F(maxGranted); F(fence); F(clock); F(c[0].term); F(c[1].term); F(net[0].val); F(net[1].val)
#endif
#define canonTerms() \
    rank = 0; \
    do \
    :: least = 0; EACH(LOW); \
       if :: least == 0 -> break :: else -> rank = rank + 2; EACH(MOVE) fi \
    od; \
    EACH(BACK); least = 0; rank = 0
#else
#define canonTerms() skip
#endif

inline canon() {
  d_step {
    for (k : 0 .. N - 1) { who[k] = k }
    sortPair(0, 1);
#if N == 3
    sortPair(1, 2); sortPair(0, 1);
#endif
    for (k : 0 .. N - 1) { pos[who[k]] = k }
    if :: net[0].kind != NONE -> net[0].cl = pos[net[0].cl] :: else -> skip fi;
    if :: net[1].kind != NONE -> net[1].cl = pos[net[1].cl] :: else -> skip fi;
    for (k : 0 .. N - 1) { who[k] = 0; pos[k] = 0 }
    copyClient(tc, c[0]); tc.mode = 0; tc.tok = 0; tc.dl = 0; tc.age = 0; tc.renewIn = 0; tc.wait = 0;
    tc.slipDl = 0; tc.slipReq = 0; tc.seq = 0; tc.paused = 0; clearTcTerm();
    if
    :: slotKey(0) < slotKey(1) || (slotKey(0) == slotKey(1) && net[0].tok < net[1].tok) ->
       copyMsg(tmp, net[0]); copyMsg(net[0], net[1]); copyMsg(net[1], tmp)
    :: else -> skip
    fi;
    tmp.kind = 0; tmp.cl = 0; tmp.tok = 0; tmp.seq = 0; clearTmpVal();
    nxt = 1;
    MAPREF(c[0].tok); MAPREF(c[1].tok);
#if N == 3
    MAPREF(c[2].tok);
#endif
    MAPREF(net[0].tok); MAPREF(net[1].tok); MAPREF(holder); MAPREF(liveTok);
    REMAP(c[0].tok); REMAP(c[1].tok);
#if N == 3
    REMAP(c[2].tok);
#endif
    REMAP(net[0].tok); REMAP(net[1].tok); REMAP(holder); REMAP(liveTok);
    nxt = 0;
    for (k : 0 .. MAXTOK) { map[k] = 0 }
    k = 0;
    canonTerms()
  }
}
byte k = 0;              /* scratch */

/* One line per step in a replayed trail (spin -t): printf does nothing during the search. */
#if N == 3
#define showClients() printf(" | c0 m%d t%d dl%d a%d r%d w%d s%d%d q%d p%d | c1 m%d t%d dl%d a%d r%d w%d s%d%d q%d p%d | c2 m%d t%d dl%d a%d r%d w%d s%d%d q%d p%d", \
  c[0].mode, c[0].tok, c[0].dl, c[0].age, c[0].renewIn, c[0].wait, c[0].slipDl, c[0].slipReq, c[0].seq, c[0].paused, \
  c[1].mode, c[1].tok, c[1].dl, c[1].age, c[1].renewIn, c[1].wait, c[1].slipDl, c[1].slipReq, c[1].seq, c[1].paused, \
  c[2].mode, c[2].tok, c[2].dl, c[2].age, c[2].renewIn, c[2].wait, c[2].slipDl, c[2].slipReq, c[2].seq, c[2].paused)
#else
#define showClients() printf(" | c0 m%d t%d dl%d a%d r%d w%d s%d%d q%d p%d | c1 m%d t%d dl%d a%d r%d w%d s%d%d q%d p%d", \
  c[0].mode, c[0].tok, c[0].dl, c[0].age, c[0].renewIn, c[0].wait, c[0].slipDl, c[0].slipReq, c[0].seq, c[0].paused, \
  c[1].mode, c[1].tok, c[1].dl, c[1].age, c[1].renewIn, c[1].wait, c[1].slipDl, c[1].slipReq, c[1].seq, c[1].paused)
#endif
#define show(what) printf(what); printf(": store h%d e%d down%d | net k%d c%d t%d q%d, k%d c%d t%d q%d", holder, expIn, downIn, \
  net[0].kind, net[0].cl, net[0].tok, net[0].seq, net[1].kind, net[1].cl, net[1].tok, net[1].seq); showClients(); printf("\n")

#ifdef TERMS
#define SNAPSHOT_TAKEN    sTaken
#define HORIZON           true
#define copyCounter()     sCounter = counter
#define restoreCounter()  counter = sCounter; sCounter = 0
#define loseCounter()     counter = 0
#else
#define SNAPSHOT_TAKEN    true
#define HORIZON           true
#define copyCounter()     skip
#define restoreCounter()  skip
#define loseCounter()     skip
#endif

init {
  do
  :: atomic { HORIZON && settled ->
       if
       :: expIn > 0 -> expIn--; if :: expIn == 0 -> endLease() :: else -> skip fi
       :: else -> skip
       fi;
       if :: downIn > 0 -> downIn-- :: else -> skip fi;
       tickClient(0); tickClient(1);
#if N == 3
       tickClient(2);
#endif
#ifdef LIVENESS
       /* Bounded response: a trusted leader within TTL + 1 ticks of the last one, whatever
        * the one pause (or crash) and the one loss do. The worst case: a grant whose reply is
        * lost holds the name at the store for TTL while nobody trusts it; a follower then
        * campaigns within a tick. With TTL instead, the check fails: the bound is tight. */
       if :: held || anyTrusts -> quiet = 0 :: else -> quiet++ fi;
       held = 0;
       assert(quiet <= TTL + 1);
#endif
       check(); canon(); show("tick") }
  :: atomic { running(0) && canStep(0) -> clientStep(0); check(); canon(); show("client 0") }
  :: atomic { running(1) && canStep(1) -> clientStep(1); check(); canon(); show("client 1") }
#if N == 3
  :: atomic { running(2) && canStep(2) -> clientStep(2); check(); canon(); show("client 2") }
#endif
  /* the store applies a request; a reply reaches its (running) client */
  :: atomic { net[0].kind != NONE && net[0].kind <= REL && downIn == 0 -> apply(0); check(); canon(); show("store applies 0") }
  :: atomic { net[1].kind != NONE && net[1].kind <= REL && downIn == 0 -> apply(1); check(); canon(); show("store applies 1") }
  :: atomic { net[0].kind > REL && running(net[0].cl) -> receive(0, net[0].cl); check(); canon(); show("reply 0") }
  :: atomic { net[1].kind > REL && running(net[1].cl) -> receive(1, net[1].cl); check(); canon(); show("reply 1") }
  /* a client pauses and resumes (a pause that never ends is a crash); the network loses a message */
  :: atomic { running(0) && pauses < MAXPAUSE -> c[0].paused = 1; pauses++; canon(); show("pause 0") }
  :: atomic { running(1) && pauses < MAXPAUSE -> c[1].paused = 1; pauses++; canon(); show("pause 1") }
#if N == 3
  :: atomic { running(2) && pauses < MAXPAUSE -> c[2].paused = 1; pauses++; canon(); show("pause 2") }
  :: atomic { c[2].paused -> c[2].paused = 0; canon(); show("resume 2") }
#endif
  :: atomic { c[0].paused -> c[0].paused = 0; canon(); show("resume 0") }
  :: atomic { c[1].paused -> c[1].paused = 0; canon(); show("resume 1") }
  :: atomic { net[0].kind != NONE && losses < MAXLOSS -> clearMsg(0); losses++; canon(); show("lost 0") }
  :: atomic { net[1].kind != NONE && losses < MAXLOSS -> clearMsg(1); losses++; canon(); show("lost 1") }
#ifdef FAULT_LOSS
  /* a restart without persistence: every key lost, the counter missing */
  :: atomic { !faulted -> faulted = 1; endLease(); loseCounter(); missing = 1; check(); canon(); show("data lost") }
#endif
#ifdef FAULT_SNAPSHOT
  /* A restore from an older snapshot: the store is down for TTL, then answers with the
   * snapshot's data. The leases in it do not matter: each had at most TTL left and its expiry
   * kept counting down (Redis stores absolute expiry times), so it has expired by the time
   * the store answers; the loss of the current lease does (mutant 8: the store answers at
   * once). With TERMS, the snapshot's counter (taken at any earlier moment) comes back. */
#ifdef TERMS
  :: atomic { !sTaken -> sTaken = 1; copyCounter(); canon(); show("snapshot taken") }
#endif
  :: atomic { SNAPSHOT_TAKEN && !faulted ->
       faulted = 1; endLease(); restoreCounter();
#if MUTANT != 8
       downIn = TTL;
#endif
       check(); canon(); show("restored") }
#endif
#ifdef FAULT_FAILOVER
  /* Asynchronous replication: the replica copies the counter at some moments, misses every
   * later write (the leases too), and is promoted at once. Only B and the fence are checked
   * here, and neither depends on which lease the new primary has. */
  :: atomic { !faulted -> sTaken = 1; copyCounter(); canon(); show("replica copied") }
  :: atomic { sTaken && !faulted -> faulted = 1; endLease(); restoreCounter(); check(); canon(); show("failed over") }
#endif
  :: else -> break
  od
}
