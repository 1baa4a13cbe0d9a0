import { createFaultlineApp } from './faultline-app.ts';

/**
 * The CDK app `cdk.json` runs (`npx cdk synth`, `npx cdk deploy`): see infra/README.md. The CLI
 * sets `CDK_OUTDIR`, and the app synthesizes there when this process ends.
 */
createFaultlineApp();
