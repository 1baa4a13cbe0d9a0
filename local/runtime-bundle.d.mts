/** Types of ./runtime-bundle.mjs (plain JavaScript, run by bin/faultline before anything reads TypeScript). */

export declare const BUNDLED_ROOMS: readonly string[];
export declare const BUNDLE_ENTRIES: Readonly<Record<string, string>>;

export interface RuntimeBundle {
  /** The bundle's folder. */
  readonly dir: string;
  /** Whether this call made it (else it was there already). */
  readonly built: boolean;
  /** Each entry point's output, by its name. */
  readonly files: Readonly<Record<string, string>>;
}

export declare const runtimeBundle: (options: {
  readonly root: string;
  readonly cacheDir?: string;
  readonly rooms?: readonly string[];
  readonly entries?: Readonly<Record<string, string>>;
  /** Hold the bundle until this process exits: no start removes a bundle a live process holds. */
  readonly holder?: boolean;
}) => Promise<RuntimeBundle>;
