import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Plan, UnsignedPlan } from '../../../events/plan.ts';
import { signCanonical, signPlan } from '../../../events/signing.ts';
import { AdapterError, messageOf, SignerKeyInvalidError, SignerUnavailableError } from '../errors.ts';
import type { PlanSigner } from './port.ts';

/**
 * The local runtime's plan signer: a P-256 private key in a PEM file (PKCS#8) in the data folder.
 *
 * The key is created on first use with mode 0600 (the folder, when created, with 0700), written
 * to a temporary file and linked into place, so a crash never leaves half a key and two processes
 * starting at once end up with the same one. After that it is reused: replacing or deleting it
 * means every agent must be given the new public key. A key file readable by group or others is
 * refused, as ssh refuses such a key: fix it with `chmod 600`.
 *
 * Node's `crypto.sign` returns the high-S form of an ECDSA signature about half the time; plans
 * and their lines are signed through events/signing.ts, which keeps only the low-S form the agents
 * accept.
 */
export interface LocalPlanSignerOptions {
  /** The local runtime's data folder (`faultline up --data`). */
  readonly dataDir: string;
  /** Default `plan-signing-key.pem`. */
  readonly fileName?: string;
  /**
   * Whether a missing key is made (default true: the start of a new data folder). A signer that
   * only signs for a control plane already started passes false: a key file gone by then means the
   * folder was deleted or damaged under it, and making a new key (and the folder again) would leave
   * every agent refusing every plan, and the next start a key beside no database.
   */
  readonly createIfMissing?: boolean;
}

export const PLAN_SIGNING_KEY_FILE = 'plan-signing-key.pem';

const KEY_FILE_MODE = 0o600;
const DATA_DIR_MODE = 0o700;
const GROUP_OR_OTHER_BITS = 0o077;
const P256 = 'prime256v1';
/** File-system failures no retry will fix. */
const PERMANENT_FS_CODES = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EISDIR']);

const codeOf = (error: unknown): string | undefined =>
  typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string'
    ? (error as { code: string }).code
    : undefined;

const wrapFs = (what: string, error: unknown): AdapterError => {
  if (error instanceof AdapterError) return error;
  const code = codeOf(error);
  return code !== undefined && PERMANENT_FS_CODES.has(code)
    ? new SignerKeyInvalidError(`${what}: ${messageOf(error)}`, { cause: error })
    : new SignerUnavailableError(`${what}: ${messageOf(error)}`, { cause: error });
};

export class LocalPlanSigner implements PlanSigner {
  readonly keyPath: string;
  readonly #dataDir: string;
  readonly #createIfMissing: boolean;
  #key: Promise<KeyObject> | undefined;

  constructor(options: LocalPlanSignerOptions) {
    this.#dataDir = options.dataDir;
    this.#createIfMissing = options.createIfMissing ?? true;
    this.keyPath = join(options.dataDir, options.fileName ?? PLAN_SIGNING_KEY_FILE);
  }

  async sign(plan: UnsignedPlan): Promise<Plan> {
    return signPlan(plan, await this.#privateKey());
  }

  /** A plan's lines, signed low-S like the JSON plan (events/signing.ts: one canonical form). */
  async signLines(lines: string): Promise<string> {
    return signCanonical(Buffer.from(lines, 'utf8'), await this.#privateKey()).toString('base64');
  }

  async publicKeyPem(): Promise<string> {
    return createPublicKey(await this.#privateKey())
      .export({ type: 'spki', format: 'pem' })
      .toString();
  }

  #privateKey(): Promise<KeyObject> {
    if (this.#key === undefined) {
      const loading = this.#loadOrCreate();
      this.#key = loading;
      // A failure is not remembered: once the operator fixes the file, the next call succeeds.
      loading.catch(() => {
        if (this.#key === loading) this.#key = undefined;
      });
    }
    return this.#key;
  }

  async #loadOrCreate(): Promise<KeyObject> {
    try {
      return await this.#read();
    } catch (error) {
      if (codeOf(error) !== 'ENOENT') throw wrapFs(`cannot read ${this.keyPath}`, error);
      if (!this.#createIfMissing) {
        throw new SignerKeyInvalidError(
          `${this.keyPath} is gone: the data folder changed under the running control plane; no new key is made`,
          { cause: error },
        );
      }
    }
    await this.#create();
    try {
      return await this.#read();
    } catch (error) {
      throw wrapFs(`cannot read ${this.keyPath}`, error);
    }
  }

  async #read(): Promise<KeyObject> {
    const stats = await stat(this.keyPath);
    if (!stats.isFile()) throw new SignerKeyInvalidError(`${this.keyPath} is not a file`);
    if ((stats.mode & GROUP_OR_OTHER_BITS) !== 0) {
      throw new SignerKeyInvalidError(
        `${this.keyPath} is open to other users (mode ${(stats.mode & 0o777).toString(8)}): run chmod 600 on it`,
      );
    }
    const pem = await readFile(this.keyPath, 'utf8');
    let key: KeyObject;
    try {
      key = createPrivateKey(pem);
    } catch (error) {
      throw new SignerKeyInvalidError(`${this.keyPath} is not a PEM private key`, { cause: error });
    }
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== P256) {
      throw new SignerKeyInvalidError(`${this.keyPath} is not an ECDSA P-256 key`);
    }
    return key;
  }

  /** Writes a new key beside its final name, then links it there unless another process won. */
  async #create(): Promise<void> {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: P256 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const temporary = `${this.keyPath}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await mkdir(this.#dataDir, { recursive: true, mode: DATA_DIR_MODE });
      const file = await open(temporary, 'wx', KEY_FILE_MODE);
      try {
        await file.writeFile(pem, 'utf8');
        await file.sync();
      } finally {
        await file.close();
      }
      try {
        await link(temporary, this.keyPath);
      } catch (error) {
        if (codeOf(error) !== 'EEXIST') throw error;
      }
    } catch (error) {
      throw wrapFs(`cannot create ${this.keyPath}`, error);
    } finally {
      await unlink(temporary).catch(() => undefined);
    }
  }
}
