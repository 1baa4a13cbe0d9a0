import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PLAN_SIGNING_KEY_FILE } from '../functions/adapters/signer/local-plan-signer.ts';
import { DATA_FILES } from './data-files.ts';

/**
 * What a start finds in its data folder, decided before anything is opened (or made). The two
 * files that make a control plane what its fleet knows are the database (incidents, hosts, agent
 * and operator tokens) and the plan-signing key (which every agent is configured to trust). A
 * start used to make whichever was missing, silently: a data folder deleted under a running
 * control plane came back empty with a new key and a new operator token, and every agent then
 * refused every plan (issue #18). Now:
 *
 * - **neither** (a folder that is new, empty or absent): a first start. It goes ahead and makes
 *   both, and says so loudly (the banner and stderr, cli/up.ts): agents configured with another
 *   key refuse plans until given this one's public key.
 * - **both**: an ordinary start.
 * - **one without the other**: refused with {@link DataFolderIncompleteError}, which says what is
 *   missing and how to go on on purpose. A fleet operator would rather be stopped than have every
 *   plan refused, or every agent token forgotten. Making the missing part is a deliberate act, not
 *   a side effect of a start: a new key is made with openssl (the command is in the message); an
 *   empty database on purpose is an empty file of its name (`touch`), which SQLite opens as an
 *   empty database.
 *
 * The queues' file is not judged: folders from before it existed kept their queues in the
 * database (control-plane.ts moves them), and a missing one loses at most what was not yet
 * correlated.
 */

export type DataFolderState = 'new' | 'existing';

/** The data folder holds the database without the key, or the key without the database. */
export class DataFolderIncompleteError extends Error {
  readonly code = 'data-folder-incomplete';

  constructor(
    readonly dataDir: string,
    readonly missing: 'database' | 'signing-key',
  ) {
    super(
      missing === 'signing-key'
        ? `the data folder ${dataDir} holds a database (${DATA_FILES.database}) but no plan-signing key (${PLAN_SIGNING_KEY_FILE}): starting would make a new key, and every agent configured with the old one would refuse every plan. Put the key back from a backup of the folder. If it is lost for good, make a new one on purpose (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ${join(dataDir, PLAN_SIGNING_KEY_FILE)} && chmod 600 ${join(dataDir, PLAN_SIGNING_KEY_FILE)}), start again, and give every agent the new ${DATA_FILES.planPublicKey}.`
        : `the data folder ${dataDir} holds a plan-signing key (${PLAN_SIGNING_KEY_FILE}) but no database (${DATA_FILES.database}): its incidents, hosts and agent tokens are gone, and starting would silently begin an empty one. Put the database back from a backup (faultline backup makes them). To start with an empty database on purpose, keeping the key the agents trust, create it (touch ${join(dataDir, DATA_FILES.database)}) and start again; every agent then needs a new token.`,
    );
    this.name = 'DataFolderIncompleteError';
  }
}

/** Whether a start on `dataDir` is a first start, an ordinary one, or refused (it throws). */
export const inspectDataFolder = (dataDir: string): DataFolderState => {
  const hasDatabase = existsSync(join(dataDir, DATA_FILES.database));
  const hasKey = existsSync(join(dataDir, PLAN_SIGNING_KEY_FILE));
  if (hasDatabase && hasKey) return 'existing';
  if (!hasDatabase && !hasKey) return 'new';
  throw new DataFolderIncompleteError(dataDir, hasDatabase ? 'signing-key' : 'database');
};
