/**
 * `npm run soak`: reliability and security of sockpass under load, faults and
 * hostile input, in one bounded run on loopback. Runs each scenario in turn
 * (servers under test in their own processes), prints one figure per line
 * with the bound it must meet, and exits non-zero when any figure falls short
 * or a scenario could not run. `SOAK_ONLY=hostile,churn` runs a subset.
 *
 * @module
 */
import { burst } from './burst.js';
import { churn } from './churn.js';
import { expiryLoad } from './expiry-load.js';
import { hostile } from './hostile.js';
import { idleAttackers } from './idle-attackers.js';
import { nodeLoss } from './node-loss.js';
import { recoveryGhost } from './recovery-ghost.js';
import { redisFaults, redisStall } from './redis-faults.js';
import { recorder, summary, type Recorder } from './report.js';

interface Scenario {
  name: string;
  run: (r: Recorder) => Promise<void>;
  /** Hard limit: a scenario still running after this is a failure, and the soak moves on. */
  limitMs: number;
}

const scenarios: Scenario[] = [
  { name: 'hostile', run: hostile, limitMs: 120_000 },
  { name: 'churn', run: churn, limitMs: 120_000 },
  { name: 'burst', run: burst, limitMs: 120_000 },
  { name: 'idle-attackers', run: idleAttackers, limitMs: 60_000 },
  { name: 'redis-faults', run: redisFaults, limitMs: 60_000 },
  { name: 'redis-stall', run: redisStall, limitMs: 60_000 },
  { name: 'node-loss', run: nodeLoss, limitMs: 60_000 },
  { name: 'recovery-ghost', run: recoveryGhost, limitMs: 60_000 },
  { name: 'expiry-load', run: expiryLoad, limitMs: 60_000 },
];

async function main(): Promise<void> {
  const only = process.env.SOAK_ONLY?.split(',').map((s) => s.trim());
  const started = performance.now();
  console.log(`sockpass soak — node ${process.version}, ${new Date().toISOString()}`);
  console.log('status scenario.figure                                             value  bound');
  let broken = 0;
  for (const scenario of scenarios) {
    if (only !== undefined && !only.includes(scenario.name)) continue;
    const r = recorder(scenario.name);
    const t0 = performance.now();
    console.log(`\n== ${scenario.name}`);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        scenario.run(r),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`did not finish within ${scenario.limitMs / 1000} s`)), scenario.limitMs);
        }),
      ]);
    } catch (err) {
      broken++;
      r.figure('ran to completion', 0, '', { op: '==', limit: 1 }, `${(err as Error).stack ?? err}`.split('\n').slice(0, 4).join(' | '));
    } finally {
      clearTimeout(timer);
    }
    r.figure('wall time', (performance.now() - t0) / 1000, 's', { op: 'info' });
  }
  const { figures, skips, failed } = summary();
  const total = (performance.now() - started) / 1000;
  console.log(`\n${figures.filter((f) => f.bound.op !== 'info').length} figures judged, ${failed.length} failed, ${skips.length} skipped, ${total.toFixed(0)} s`);
  for (const s of skips) console.log(`SKIPPED  ${s.scenario}: ${s.reason}`);
  for (const f of failed) console.log(`FAILED   ${f.scenario}.${f.name} = ${f.value} ${f.unit}`);
  process.exitCode = failed.length > 0 || broken > 0 || skips.length > 0 ? 1 : 0;
  // Sockets of the drivers may keep the loop alive a little; the verdict is final.
  setTimeout(() => process.exit(), 500).unref();
}

main().catch((err) => {
  console.error(err);
  process.exit(2);
});
