/**
 * Writes many revocation entries straight into Redis, in the Redis ledger's
 * key format (`<prefix><kind>:<id>` = `"<at>:<until>"`, expiring at `until`),
 * server-side in one Lua script: tests and the bench measure the ledger's
 * load, not the fill. Ids are `<idPrefix>0` … `<idPrefix><count - 1>`.
 */
export interface FillOptions {
  prefix: string;
  kind: 'user' | 'session' | 'token';
  idPrefix: string;
  count: number;
  at: number;
  until: number;
}

const FILL_SCRIPT = `
for i = 0, tonumber(ARGV[3]) - 1 do
  redis.call('SET', ARGV[1] .. ARGV[2] .. i, ARGV[4], 'PXAT', ARGV[5])
end
return 1
`;

export async function fillRevocations(client: { sendCommand(args: string[]): Promise<unknown> }, fill: FillOptions): Promise<void> {
  const { prefix, kind, idPrefix, count, at, until } = fill;
  await client.sendCommand(['EVAL', FILL_SCRIPT, '0', prefix, `${kind}:${idPrefix}`, String(count), `${at}:${until}`, String(until)]);
}
