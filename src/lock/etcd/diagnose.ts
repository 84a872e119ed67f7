/**
 * `diagnose()` of the etcd store: configuration that weakens its
 * guarantees, as human-readable warnings (none: nothing found). It reads the
 * cluster's member list and changes nothing.
 */
import type { IMemberListResponse } from 'etcd3';

/**
 * The warnings for the cluster whose members `listMembers` reads (its
 * failure is diagnose()'s failure); `undefined` when the client has no
 * cluster API (a namespace): nothing to check.
 */
export async function diagnoseEtcd(
  listMembers: (() => Promise<IMemberListResponse>) | undefined,
): Promise<string[]> {
  const warnings: string[] = [];
  if (listMembers) {
    const { members } = await listMembers();
    if (members.length < 3) {
      warnings.push(
        `etcd has ${members.length} member(s): losing one stops every election; run 3 or 5 members`,
      );
    }
  }
  return warnings;
}
