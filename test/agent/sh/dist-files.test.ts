import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * What installs the sh agent on a Solaris host (agent/sh/README.md): the SMF manifest runs the
 * agent where the README puts it, with the configuration the README writes, and the shutdown
 * script announces going-down; both are checked as far as a Linux machine can check them.
 */

const folder = join(import.meta.dirname, '..', '..', '..', 'agent', 'sh');
const read = (name: string) => readFileSync(join(folder, name), 'utf8');

/** The element names of an XML text in document order, with `/name` for each end (a balance check). */
const tags = (xml: string): string[] =>
  [...xml.replace(/<!--[\s\S]*?-->/g, '').matchAll(/<(\/?)([A-Za-z_][\w:.-]*)[^>]*?(\/?)>/g)].flatMap(
    ([, close, name, selfClosing]) => (selfClosing === '/' ? [name ?? '', `/${name}`] : [`${close}${name}`]),
  );

describe('the SMF manifest', () => {
  const manifest = read('faultline-agent.xml');

  it('is well-formed: every element closed, in order, under one service bundle', () => {
    const open: string[] = [];
    for (const tag of tags(manifest)) {
      if (tag.startsWith('/')) expect(open.pop()).toBe(tag.slice(1));
      else open.push(tag);
    }
    expect(open).toEqual([]);
    expect(tags(manifest)[0]).toBe('service_bundle');
    expect(manifest).toContain(
      '<!DOCTYPE service_bundle SYSTEM "/usr/share/lib/xml/dtd/service_bundle.dtd.1">',
    );
  });

  it('runs the agent where the README installs it, as a child service killed on stop', () => {
    const readme = read('README.md');
    expect(manifest).toContain(
      'exec="/opt/faultline/bin/faultline-agent.sh run --config /etc/opt/faultline/agent.conf"',
    );
    expect(readme).toContain('cp faultline-agent.sh /opt/faultline/bin/faultline-agent.sh');
    expect(readme).toContain('cat > /etc/opt/faultline/agent.conf');
    expect(manifest).toContain('<propval name="duration" type="astring" value="child"/>');
    expect(manifest).toContain('<exec_method type="method" name="stop" exec=":kill"');
  });
});

describe('the shutdown script', () => {
  it('passes shellcheck and announces going-down with the installed agent and configuration', () => {
    const script = join(folder, 'faultline-going-down');
    expect(() => execFileSync('shellcheck', ['-s', 'sh', script], { stdio: 'pipe' })).not.toThrow();
    const text = read('faultline-going-down');
    expect(text).toContain('AGENT=/opt/faultline/bin/faultline-agent.sh');
    expect(text).toContain('CONFIG=/etc/opt/faultline/agent.conf');
    expect(text).toMatch(/"\$AGENT" announce going-down --config "\$CONFIG"/);
  });
});
