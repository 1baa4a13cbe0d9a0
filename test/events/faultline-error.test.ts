import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../agent/config.ts';
import { PlanFetchError, ToolMissingError } from '../../agent/executor/errors.ts';
import { CredentialProcessError, ProxyTunnelError } from '../../agent/publish/errors.ts';
import { ProbeError } from '../../agent/scan/errors.ts';
import { FaultlineError, isFaultlineError } from '../../events/faultline-error.ts';
import { QueueUnavailableError, StoreRejectedError } from '../../functions/adapters/errors.ts';
import { InvalidJsonError, ServiceUnavailableError } from '../../functions/api/errors.ts';
import { DeliveryLogUnavailableError, NotifyConfigError } from '../../functions/notify/errors.ts';
import { DecisionContendedError, DecisionCorruptError } from '../../functions/outbox/errors.ts';
import { DemoError } from '../../sim/errors.ts';

const cause = new Error('SQLITE_BUSY: database is locked');

describe('FaultlineError', () => {
  it.each([
    [
      new QueueUnavailableError('events', 'throttled', { cause }),
      'QueueUnavailableError',
      'queue-unavailable',
      true,
    ],
    [new StoreRejectedError('item too large'), 'StoreRejectedError', 'store-rejected', false],
    [new ServiceUnavailableError('store', { cause }), 'ServiceUnavailableError', 'unavailable', true],
    [new InvalidJsonError('the body is not JSON'), 'InvalidJsonError', 'invalid-json', false],
    [
      new NotifyConfigError('bad destinations', ['destinations.1.url: not a URL']),
      'NotifyConfigError',
      'notify-config-invalid',
      false,
    ],
    [
      new DeliveryLogUnavailableError('locked', { cause }),
      'DeliveryLogUnavailableError',
      'delivery-log-unavailable',
      true,
    ],
    [new DecisionContendedError('decision-1', 5), 'DecisionContendedError', 'decision-contended', true],
    [
      new DecisionCorruptError('lock token does not parse', { cause }),
      'DecisionCorruptError',
      'decision-corrupt',
      false,
    ],
    [new ToolMissingError('mdadm', ['/sbin', '/usr/sbin']), 'ToolMissingError', 'tool-missing', false],
    [
      new PlanFetchError('http://cp/v1/agents/h/plans', 503, 'busy'),
      'PlanFetchError',
      'plan-fetch-failed',
      true,
    ],
    [
      new PlanFetchError('http://cp/v1/agents/h/plans', 404, 'no route'),
      'PlanFetchError',
      'plan-fetch-failed',
      false,
    ],
    [new ProxyTunnelError('proxy:3128', 'sqs:443', 407), 'ProxyTunnelError', 'proxy-refused', true],
    [
      new CredentialProcessError('aws_signing_helper', 'exit 1', { cause }),
      'CredentialProcessError',
      'credential-process-failed',
      true,
    ],
    [
      new ProbeError('invalid-snapshot', 'the snapshot does not validate'),
      'ProbeError',
      'invalid-snapshot',
      false,
    ],
    [new DemoError('timed-out', 'the fleet did not heal in time'), 'DemoError', 'timed-out', false],
    [new ConfigError('/etc/faultline/agent.json', ['role: invalid']), 'ConfigError', 'config-invalid', false],
  ] as const)(
    'is the base of %s, which names itself %s with code %s (retryable %s)',
    (error, name, code, retryable) => {
      expect(error).toBeInstanceOf(FaultlineError);
      expect(error).toBeInstanceOf(Error);
      expect(isFaultlineError(error)).toBe(true);
      expect(error.name).toBe(name);
      expect(error.code).toBe(code);
      expect(error.retryable).toBe(retryable);
    },
  );

  it('keeps the cause it wraps, for the logs', () => {
    expect(new QueueUnavailableError('events', 'throttled', { cause }).cause).toBe(cause);
    expect(new DecisionCorruptError('lock token does not parse', { cause }).cause).toBe(cause);
    expect(new ServiceUnavailableError('store', { cause }).cause).toBe(cause);
    expect(new CredentialProcessError('aws_signing_helper', 'exit 1', { cause }).cause).toBe(cause);
  });

  it('keeps each module’s message and context fields', () => {
    const contended = new DecisionContendedError('decision-1', 5);
    expect(contended.message).toBe('decision decision-1 lost its slices to other writers 5 times');
    expect(contended.attempts).toBe(5);
    expect(new DecisionCorruptError('lock token does not parse').message).toBe('lock token does not parse');
    expect(new ServiceUnavailableError('queue').issues).toBeUndefined();
    expect(new DemoError('token-refused', 'refused').exitCode).toBe(4);
  });

  it('names a subclass declared anywhere after its own class', () => {
    class ShelfFullError extends FaultlineError<'shelf-full'> {
      readonly code = 'shelf-full' as const;
      readonly retryable = true;
    }
    const error = new ShelfFullError('the shelf is full');
    expect(error.name).toBe('ShelfFullError');
    expect(String(error)).toBe('ShelfFullError: the shelf is full');
  });
});

describe('isFaultlineError', () => {
  it.each([
    ['a plain Error', new Error('boom')],
    ['an Error that only looks like one', Object.assign(new Error('boom'), { code: 'x', retryable: false })],
    ['an SDK-shaped object', { name: 'ThrottlingException', $retryable: {} }],
    ['a string', 'boom'],
    ['undefined', undefined],
    ['null', null],
  ])('is false for %s: only the project’s own errors say whether they are retryable', (_, value) => {
    expect(isFaultlineError(value)).toBe(false);
  });
});
