// The choice of the member to promote (recovery-hooks/workflows/master-members.ts): preference list first, then by
// name; only hosts whose toolstack answers as a member; a host refusing our password acts as a master.
import t from 'tap';
import type { ProbeResult } from '../../core/xapi/client.js';
import { type HostAnswer, answersAsMaster, answersAsMember, chooseMember, probeAll } from '../../recovery-hooks/workflows/master-members.js';

const host = (name: string, uuid: string, result: ProbeResult): HostAnswer => ({ host: { name, uuid, address: `10.0.0.${uuid}` }, result });
const member: ProbeResult = { state: 'member', master: '10.0.0.1' };
const silent: ProbeResult = { state: 'silent', error: new Error('timeout') };

t.test('without candidates: the answering member first by name, then uuid', async (t) => {
  const answers = [host('c', '3', member), host('b', '5', silent), host('b', '4', { state: 'answers', code: 'INTERNAL_ERROR' }), host('a', '2', silent)];
  t.equal(chooseMember([], answers).chosen?.uuid, '4', 'a is silent; b (4) answers in emergency mode; b (5) is silent');
  t.equal(chooseMember([], [host('a', '2', silent)]).chosen, undefined, 'nobody answers: nobody');
});

t.test('candidates by name or uuid, in order; the ones naming nobody or several are noted and skipped', async (t) => {
  const answers = [host('a', '2', member), host('b', '3', silent), host('c', '4', member), host('d', '5', member), host('d', '6', member)];
  const { chosen, notes } = chooseMember(['nobody', 'b', 'd', '4', 'a'], answers);
  t.equal(chosen?.name, 'c', 'b is silent, d is ambiguous, 4 is c');
  t.match(notes, [/"nobody" names no member/, /"d" is ambiguous \(d, d\)/]);
  t.equal(chooseMember(['A'], [host('a', '2', member), host('b', '3', member)]).chosen?.name, 'a', 'names are exact; falls back to by-name order');
});

t.test('a host that refuses our password acts as master, never promoted', async (t) => {
  const refused = host('a', '2', { state: 'answers', code: 'SESSION_AUTHENTICATION_FAILED' });
  t.ok(answersAsMaster(refused));
  t.notOk(answersAsMember(refused));
  t.equal(chooseMember(['a'], [refused, host('b', '3', member)]).chosen?.name, 'b');
});

t.test('probeAll: a rejected probe counts as silent; order kept', async (t) => {
  const hosts = [host('a', '2', member).host, host('b', '3', member).host];
  const out = await probeAll({ probe: async (address) => (address.endsWith('.2') ? { state: 'master' } : Promise.reject(new Error('boom'))) }, hosts, 100);
  t.same(
    out.map((a) => a.result.state),
    ['master', 'silent'],
  );
});
