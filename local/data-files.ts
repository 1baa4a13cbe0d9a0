/** The names the runtime's threads and the commands on this machine share: files, queues, the API's sender. */

/** The files the data folder holds besides the database, for the operator commands on this machine. */
export const DATA_FILES = {
  database: 'faultline.db',
  /**
   * The queues and notify's delivery log, apart from the store: each correlate batch holds the
   * store's write lock until it commits, and ingest must queue events meanwhile.
   */
  queues: 'queues.db',
  url: 'url',
  operatorToken: 'operator-token',
  /** The public key agents verify plans with (the private key stays in the signer's own file). */
  planPublicKey: 'plan-public-key.pem',
} as const;

export const QUEUES = {
  events: 'events',
  eventsDeadLetter: 'events-dlq',
  notify: 'notify',
  notifyDeadLetter: 'notify-dlq',
} as const;

/** The SenderId the local API sends with: correlate believes its `FaultlineSender` stamp. */
export const API_SENDER = 'faultline-api';
