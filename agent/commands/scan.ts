/** `faultline-agent scan`: not built yet (see the open agent issues). */
export const run = async (_args: readonly string[]): Promise<number> => {
  process.stderr.write('faultline-agent scan: not built yet\n');
  return 1;
};
