/**
 * Waits for a condition the agent reaches asynchronously (a delivery, a scan), polling. The limit
 * only stops a broken test from hanging; no test asserts how fast anything happens.
 */
export const waitUntil = async (
  condition: () => boolean | Promise<boolean>,
  what: string,
  limitMs = 20_000,
): Promise<void> => {
  const deadline = Date.now() + limitMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};
