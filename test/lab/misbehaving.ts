/** The misbehaving stdio product of the lab's limit tests, and how they watch its processes go. */
import { resolve } from 'node:path';

export const MISBEHAVING = resolve(process.cwd(), 'test/lab/fixtures/product-misbehaving.mjs');

/** Whether a process of this pid still exists. */
export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Waits up to 5 s for `f` to hold. */
export const until = async (f: () => boolean): Promise<void> => {
  for (let i = 0; i < 100 && !f(); i++) await new Promise((r) => setTimeout(r, 50));
};
