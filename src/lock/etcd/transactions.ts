/**
 * The etcd transactions of the store's writes: what each compares, what it
 * writes, and what its failure branch reads back. Every write to a held
 * lease compares the key's create revision (which incarnation of the key is
 * ours), so it never touches a key that expired and was acquired again.
 */
import type { IRangeResponse, ITxnRequest, ITxnResponse } from 'etcd3';
import { encodeValue, type LeaseValue } from './records.js';

/** The FIFO queue's part in an acquire (see queue.ts). */
export interface QueueTerms {
  /** Range covering every ticket queued for the name. */
  readonly range: { readonly key: Buffer; readonly range_end: Buffer };
  /** The caller's ticket: its queue key, and the value to queue it with on a refusal. */
  readonly ticket?: { readonly key: Buffer; readonly value: Buffer } | undefined;
  /**
   * Create revision of the caller's ticket key, once a read showed it at the
   * head of the queue. It stays there until deleted: a key created later
   * has a higher revision.
   */
  readonly head?: number | undefined;
}

/**
 * acquire: if the lease key does not exist, the term counter is still at
 * `counterRevision` (0: no counter), and the caller's turn has come (the
 * queue is empty, or the caller's ticket key is still the one seen at its
 * head), create the key on etcd lease `leaseId`, store `value.term` in the
 * counter and take the caller's ticket out of the queue. On failure, queue
 * the caller's ticket on `leaseId` (a put keeps an existing key's create
 * revision: its place) and read back: response 0 the key, 1 the counter,
 * and the last one the queue's head (oldest ticket).
 */
export function grantTxn(
  key: Buffer,
  termKey: Buffer,
  counterRevision: number,
  leaseId: string,
  value: LeaseValue,
  queue: QueueTerms,
): ITxnRequest {
  const { range, ticket, head } = queue;
  const turn =
    ticket !== undefined && head !== undefined
      ? {
          key: ticket.key,
          target: 'Create' as const,
          result: 'Equal' as const,
          create_revision: head,
        }
      : { ...range, target: 'Create' as const, result: 'Equal' as const, create_revision: 0 };
  return {
    compare: [
      { key, target: 'Create', result: 'Equal', create_revision: 0 },
      { key: termKey, target: 'Mod', result: 'Equal', mod_revision: counterRevision },
      turn,
    ],
    success: [
      { request_put: { key, value: encodeValue(value), lease: leaseId } },
      { request_put: { key: termKey, value: Buffer.from(String(value.term)) } },
      ...(ticket ? [{ request_delete_range: { key: ticket.key } }] : []),
    ],
    failure: [
      { request_range: { key } },
      { request_range: { key: termKey } },
      ...(ticket
        ? [{ request_put: { key: ticket.key, value: ticket.value, lease: leaseId } }]
        : []),
      { request_range: headRange(range) },
    ],
  };
}

/** Reads the oldest ticket of a queue. */
export function headRange(range: { readonly key: Buffer; readonly range_end: Buffer }) {
  return { ...range, sort_order: 'Ascend', sort_target: 'Create', limit: 1 } as const;
}

/** The index of the queue's head in a failed grant's answer. */
export function headIndex(queue: QueueTerms): number {
  return queue.ticket ? 3 : 2;
}

/** update: rewrite incarnation `created` of the key, keeping its etcd lease. On failure, response 0 reads the key. */
export function updateTxn(key: Buffer, created: number, value: LeaseValue): ITxnRequest {
  return {
    compare: [{ key, target: 'Create', result: 'Equal', create_revision: created }],
    success: [{ request_put: { key, value: encodeValue(value), ignore_lease: true } }],
    failure: [{ request_range: { key } }],
  };
}

/** release: delete incarnation `created` of the key (the etcd lease is revoked separately). */
export function releaseTxn(key: Buffer, created: number): ITxnRequest {
  return {
    compare: [{ key, target: 'Create', result: 'Equal', create_revision: created }],
    success: [{ request_delete_range: { key } }],
    failure: [],
  };
}

/**
 * A renewal for longer than the grant: move incarnation `created` of the
 * key from etcd lease `from` to lease `to`, if it is still on `from`. On
 * failure, response 0 reads the key.
 */
export function moveTxn(
  key: Buffer,
  created: number,
  from: string,
  to: string,
  value: LeaseValue,
): ITxnRequest {
  return {
    compare: [
      { key, target: 'Create', result: 'Equal', create_revision: created },
      { key, target: 'Lease', result: 'Equal', lease: from },
    ],
    success: [{ request_put: { key, value: encodeValue(value), lease: to } }],
    failure: [{ request_range: { key } }],
  };
}

/** The range read at `index` of a transaction's answer (of its failure branch). */
export function rangeOf(txn: ITxnResponse, index: number): IRangeResponse | undefined {
  return txn.responses[index]?.response_range;
}
