/**
 * The recorded history of a fault run: JSON lines from every process, times
 * as process.hrtime.bigint() nanoseconds (CLOCK_MONOTONIC on Linux, so one
 * axis for all processes on the host), serialized as decimal strings.
 */
export type HistoryEvent =
  /** `req`: numbers a request within its process; its reply carries the same (replies to requests that timed out can arrive out of order). */
  | { t: string; proc: string; ev: 'acquire_send'; term?: number; req?: number }
  | { t: string; proc: string; ev: 'renew_send'; term?: number; req?: number }
  | {
      t: string;
      proc: string;
      ev: 'acquire_reply';
      req?: number;
      result: 'ok' | 'held' | 'error';
      term?: number;
      err?: string;
    }
  | {
      t: string;
      proc: string;
      ev: 'renew_reply';
      req?: number;
      term: number;
      result: 'ok' | 'lost' | 'error';
      err?: string;
    }
  | { t: string; proc: string; ev: 'became_leader'; term: number; deadline: string }
  | { t: string; proc: string; ev: 'deadline'; term: number; deadline: string }
  | { t: string; proc: string; ev: 'stepped_down'; term: number; reason: string }
  | { t: string; proc: string; ev: 'probe'; value: boolean; term: number | null }
  /** `t` is when the resource answered; `sent` when the elector decided to act (after its isLeader check). */
  | { t: string; proc: string; ev: 'action'; term: number; accepted: boolean; sent?: string }
  | { t: string; proc: string; ev: 'error'; code: string; message?: string }
  | { t: string; proc: string; ev: 'mem'; rss: number }
  | { t: string; proc: string; ev: 'start' }
  | { t: string; proc: string; ev: 'exit' }
  | { t: string; proc: string; ev: 'fault'; kind: string; phase: 'start' | 'end' };

export const ns = (e: { t: string }): bigint => BigInt(e.t);
