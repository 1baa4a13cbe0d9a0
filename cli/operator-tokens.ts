import { issuesText, parseWith, TokenCreated, TokenId, TokenList, TokenSummary } from '../events/index.ts';
import { printable } from '../local/terminal-log.ts';
import { answer, type CommandContext, call, table, UsageError } from './operator-client.ts';
import { grantOf, hostIdOf } from './operator-hosts.ts';

/**
 * `faultline tokens create|list|revoke` (docs/architecture.md §6): the bearer tokens of agents and
 * operators. `create` prints only the secret on stdout, so `$(faultline tokens create ...)` holds
 * it, and says the token's id on stderr; `list` shows every token by id, never a secret; `revoke
 * <id>` makes the token's next request fail (401). The API refuses to revoke the token the command
 * runs with (409): revoke an old operator token with its successor.
 */

export const TOKENS_USAGE = `usage:
  faultline tokens create --host <hostId> [--label L] [--role hosting|control --serves <domain>...] [--json]
  faultline tokens create --operator [--label L] [--json]
    prints the secret (shown this once); with --role and --serves the host is registered as a server
    with that grant (as \`faultline hosts register\`)
  faultline tokens list [--json]
    every token, oldest first: its id, kind, host, label and creation time (never its secret)
  faultline tokens revoke <id> [--json]
    the token's next request is refused; the token this command runs with cannot revoke itself
`;

/** How many tokens `tokens list` asks for per page. */
const LIST_PAGE_SIZE = 1000;

const noOptions = (context: CommandContext, verb: string): void => {
  if (
    context.text('host') !== undefined ||
    context.text('label') !== undefined ||
    context.flag('operator') ||
    context.text('role') !== undefined ||
    context.list('serves').length > 0
  ) {
    throw new UsageError(`tokens ${verb} takes none of --host, --operator, --label, --role, --serves`);
  }
};

/** Who a token is for, in words: `agent for vios2 (vios2 agent)`, `operator (alice)`. */
const tokenWords = (token: TokenSummary): string =>
  printable(
    `${token.kind}${token.hostId === undefined ? '' : ` for ${token.hostId}`}${
      token.label === undefined ? '' : ` (${token.label})`
    }`,
  );

const create = async (context: CommandContext, rest: readonly string[]): Promise<number> => {
  if (rest.length > 0) throw new UsageError(`unexpected ${rest.join(' ')}`);
  const host = context.text('host');
  const operator = context.flag('operator');
  if ((host === undefined) === !operator)
    throw new UsageError('tokens create needs either --host <hostId> or --operator');
  const label = context.text('label');
  const labelled = label === undefined ? {} : { label };
  const grant = grantOf(context);
  if (operator && grant !== undefined)
    throw new UsageError('--role and --serves grant a host, not an operator token');
  const body =
    host === undefined
      ? { kind: 'operator', ...labelled }
      : { kind: 'agent', hostId: hostIdOf(host, '--host'), ...labelled, ...grant };
  const minted = answer(
    TokenCreated,
    await call(context.connection, 'POST', '/v1/tokens', body),
    'POST /v1/tokens',
  );
  context.print(minted, () => `${minted.token}\n`);
  context.note(
    `minted ${minted.id}, ${tokenWords(minted)}; \`faultline tokens revoke ${minted.id}\` revokes it\n`,
  );
  return 0;
};

const list = async (context: CommandContext, rest: readonly string[]): Promise<number> => {
  if (rest.length > 0) throw new UsageError('tokens list takes no arguments');
  noOptions(context, 'list');
  const tokens: TokenSummary[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ limit: String(LIST_PAGE_SIZE) });
    if (cursor !== null) query.set('cursor', cursor);
    const path = `/v1/tokens?${query}`;
    const page = answer(TokenList, await call(context.connection, 'GET', path), `GET ${path}`);
    tokens.push(...page.tokens);
    cursor = page.cursor;
  } while (cursor !== null);
  context.print({ tokens }, () =>
    tokens.length === 0
      ? 'no tokens\n'
      : table(
          ['ID', 'KIND', 'HOST', 'LABEL', 'CREATED'],
          tokens.map((token) => [
            token.id,
            token.kind,
            token.hostId ?? '-',
            token.label ?? '-',
            token.createdAt,
          ]),
        ),
  );
  return 0;
};

const revoke = async (context: CommandContext, rest: readonly string[]): Promise<number> => {
  const [id, ...more] = rest;
  if (id === undefined) throw new UsageError('tokens revoke needs a token id (from faultline tokens list)');
  if (more.length > 0) throw new UsageError(`unexpected ${more.join(' ')}`);
  noOptions(context, 'revoke');
  const parsed = parseWith(TokenId, id);
  if (!parsed.ok) {
    // A secret pasted by mistake is not echoed back to the terminal (or a log of it).
    const shown = id.startsWith('flt_') ? 'a token secret' : JSON.stringify(id);
    throw new UsageError(`${shown} is not a token id: ${issuesText(parsed.issues)}`);
  }
  const path = `/v1/tokens/${parsed.value}`;
  const revoked = answer(TokenSummary, await call(context.connection, 'DELETE', path), `DELETE ${path}`);
  context.print(
    revoked,
    () => `revoked ${revoked.id}, ${tokenWords(revoked)}: its next request is refused\n`,
  );
  return 0;
};

/** `faultline tokens create|list|revoke`. */
export const runTokens = async (context: CommandContext): Promise<number> => {
  const [verb, ...rest] = context.positionals;
  switch (verb) {
    case 'create':
      return create(context, rest);
    case 'list':
      return list(context, rest);
    case 'revoke':
      return revoke(context, rest);
    default:
      throw new UsageError(
        verb === undefined ? 'tokens needs create, list or revoke' : `unknown tokens command ${verb}`,
      );
  }
};
