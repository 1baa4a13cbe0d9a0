/** Where a command writes: stdout and stderr, so tests can capture them. */
export type Streams = { stdout: (text: string) => void; stderr: (text: string) => void };
