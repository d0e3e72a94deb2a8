import type { Recorder } from './report.js';
export async function idleAttackers(r: Recorder): Promise<void> {
  r.skip('not written yet');
}
