import t from 'tap'
import { WebSocket } from 'ws'
import { startStack, type Stack } from './helpers/stack.js'

/**
 * A WebSocket lives as long as the session it was opened with: when the
 * session ends, on this gateway or on another one sharing the store, the
 * socket is closed with 1008; sockets of other sessions go on.
 */

interface Open { socket: WebSocket, closed: Promise<{ code: number, reason: string }> }

async function openAs (stack: Stack, gatewayUrl: string, user: string): Promise<Open & { cookie: string }> {
  const { browser } = await stack.signIn(user)
  const cookie = `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}`
  const socket = new WebSocket(`${gatewayUrl.replace(/^http/, 'ws')}/ws`, { headers: { cookie, origin: stack.url } })
  const closed = new Promise<{ code: number, reason: string }>(resolve => { socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })) })
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve())
    socket.once('error', reject)
  })
  return { socket, closed, cookie }
}

async function echo (socket: WebSocket, text: string): Promise<unknown> {
  return await new Promise(resolve => {
    socket.once('message', data => resolve(JSON.parse(data.toString())))
    socket.send(text)
  })
}

async function signOut (stack: Stack, gatewayUrl: string, cookie: string): Promise<void> {
  const res = await fetch(`${gatewayUrl}/.gatehouse/logout`, { method: 'POST', redirect: 'manual', headers: { cookie, origin: stack.url } })
  if (res.status !== 303) throw new Error(`sign-out answered ${res.status}`)
}

t.test('WebSockets are closed with 1008 when their session ends, on every gateway', async t => {
  const stack = await startStack(t)
  const b = await stack.startReplica()
  const alice = await openAs(stack, stack.url, 'alice')
  const bob = await openAs(stack, stack.url, 'bob')
  const bobOnB = await openAs(stack, b.url, 'bob')
  t.same(await echo(alice.socket, 'hi'), { user: 'alice', echo: 'hi' }, 'control: the socket works')

  // Revoked through the other gateway: this one learns of it through the store.
  await b.gateway.store.revoke('user', 'alice')
  t.same(await alice.closed, { code: 1008, reason: 'session ended' }, 'alice\'s socket on gateway A closed when B revoked her sessions')
  t.same(await echo(bob.socket, 'still here'), { user: 'bob', echo: 'still here' }, 'bob\'s socket of another session stays open')
  t.same(await echo(bobOnB.socket, 'still here'), { user: 'bob', echo: 'still here' }, 'bob\'s socket on gateway B stays open')

  // One of bob's sessions signed out through gateway A: its socket on gateway B closes, his other session's stays.
  await signOut(stack, stack.url, bobOnB.cookie)
  t.same(await bobOnB.closed, { code: 1008, reason: 'session ended' }, 'the socket on gateway B closed when its session signed out through A')
  t.same(await echo(bob.socket, 'still here'), { user: 'bob', echo: 'still here' }, 'the socket of bob\'s other session stays open')

  // Signed out on the gateway that holds the socket.
  await signOut(stack, stack.url, bob.cookie)
  t.same(await bob.closed, { code: 1008, reason: 'session ended' }, 'bob\'s socket closed when he signed out')
  await stack.logs.waitFor(r => r.event === 'websocket.session_ended')
})
