/**
 * The etcd transactions of the store's writes: what each compares, what it
 * writes, and what its failure branch reads back. Every write to a held
 * lease compares the key's create revision (which incarnation of the key is
 * ours), so it never touches a key that expired and was acquired again.
 */
import type { IRangeResponse, ITxnRequest, ITxnResponse } from 'etcd3';
import { encodeValue, type LeaseValue } from './records.js';

/**
 * acquire: if the lease key does not exist and the term counter is still at
 * `counterRevision` (0: no counter), create the key on etcd lease `leaseId`
 * and store `value.term` in the counter. On failure, response 0 reads the
 * key and response 1 the counter.
 */
export function grantTxn(
  key: Buffer,
  termKey: Buffer,
  counterRevision: number,
  leaseId: string,
  value: LeaseValue,
): ITxnRequest {
  return {
    compare: [
      { key, target: 'Create', result: 'Equal', create_revision: 0 },
      { key: termKey, target: 'Mod', result: 'Equal', mod_revision: counterRevision },
    ],
    success: [
      { request_put: { key, value: encodeValue(value), lease: leaseId } },
      { request_put: { key: termKey, value: Buffer.from(String(value.term)) } },
    ],
    failure: [{ request_range: { key } }, { request_range: { key: termKey } }],
  };
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
