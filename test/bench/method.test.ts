// The bench's method (bench/placement.ts, bench/stats.ts, bench/children.ts): where its processes
// run, and the interval it puts around a median of per-round ratios.
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { closeServer, startServer, stopChildren, type ServerHandle } from '../../bench/children.js';
import { allowedCpus, PLACEMENT } from '../../bench/placement.js';
import { scenario } from '../../bench/scenarios.js';
import { medianInterval } from '../../bench/stats.js';

describe('the bench pins its servers and client drivers apart', () => {
  afterAll(() => stopChildren());

  it('reads the CPUs a process may use from /proc status lines', () => {
    expect(allowedCpus('Name:\tnode\nCpus_allowed_list:\t0-1\n')).toEqual([0, 1]);
    expect(allowedCpus('Cpus_allowed_list:\t0,2-4,7\n')).toEqual([0, 2, 3, 4, 7]);
    expect(allowedCpus('Cpus_allowed_list:\t3\n')).toEqual([3]);
    expect(allowedCpus('Name:\tnode\n')).toEqual([]);
    expect(allowedCpus('Cpus_allowed_list:\tgarbage\n')).toEqual([]);
  });

  it('puts servers and client drivers on different CPUs, or says why it does not', () => {
    if (PLACEMENT.server === undefined) {
      expect(PLACEMENT.note).toMatch(/^not pinned \(/);
    } else {
      expect(PLACEMENT.clients).not.toBe(PLACEMENT.server);
      expect(PLACEMENT.note).toContain(`CPU ${PLACEMENT.server}`);
    }
  });

  it.runIf(process.platform === 'linux')('starts a scenario server whose every thread runs only on the servers\' CPU', async () => {
    const started = await startServer(scenario('bare'), { publicKey: '' }, 'UNUSED_BENCH_KEY');
    if (typeof started === 'string') throw new Error(`the bare server skipped: ${started}`);
    const server: ServerHandle = started;
    try {
      const pid = server.child.pid!;
      const expected = PLACEMENT.server === undefined ? allowedCpus(readFileSync('/proc/self/status', 'utf8')) : [PLACEMENT.server];
      // node's own threads (libuv's pool, V8's workers) too, not only the main thread.
      const threads = readdirSync(`/proc/${pid}/task`);
      expect(threads.length).toBeGreaterThan(1);
      for (const tid of threads) {
        expect(allowedCpus(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8')), `thread ${tid}`).toEqual(expected);
      }
    } finally {
      await closeServer(server);
    }
  }, 60_000);
});

describe('the interval around a median of per-round ratios', () => {
  const rounds = (n: number) => Array.from({ length: n }, (_, i) => 1 + i / 100);

  it('gives no interval below 5 rounds, where even the extremes cover less than 90%', () => {
    expect(medianInterval(rounds(4)).low).toBeNaN();
  });

  it('widens to the extremes at 5 and 7 rounds and trims one value a side from 9', () => {
    expect(medianInterval(rounds(5))).toMatchObject({ low: 1, high: 1.04, coverage: 0.9375 });
    expect(medianInterval(rounds(7))).toMatchObject({ low: 1, high: 1.06 });
    expect(medianInterval(rounds(9))).toMatchObject({ low: 1.01, high: 1.07 });
    expect(medianInterval(rounds(9)).coverage).toBeCloseTo(0.961, 3);
  });

  it('covers the true median at least as often as it claims, on random draws', () => {
    // 2,000 runs of 9 rounds from a skewed distribution whose median is known (exponential: ln 2).
    let covered = 0;
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) + 0.5) / 2 ** 31;
    for (let run = 0; run < 2000; run++) {
      const draws = Array.from({ length: 9 }, () => -Math.log(random()));
      const { low, high } = medianInterval(draws);
      if (low <= Math.LN2 && Math.LN2 <= high) covered++;
    }
    expect(covered / 2000).toBeGreaterThan(0.93);
  });

  it('does not depend on the order of the rounds', () => {
    expect(medianInterval([1.2, 0.9, 1.0, 1.1, 0.95, 1.05, 0.8, 1.3, 1.01])).toEqual(
      medianInterval([0.8, 0.9, 0.95, 1.0, 1.01, 1.05, 1.1, 1.2, 1.3]),
    );
  });
});
