import { main } from './cli.ts';

/** The entry point of the bundled agent (`dist/faultline-agent.mjs`). */
process.exitCode = await main(process.argv.slice(2));
