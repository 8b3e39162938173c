/**
 * A user's own SDK endpoint for the e2e tests: `echo/say` (unkeyed router) on the port given as
 * the first argument, served with the SDK's `listen()` as the README tells users to.
 */
import * as restate from '@restatedev/restate-sdk';

const echo = restate.router({
  say: async (_ctx: restate.Context, request: { text?: string }): Promise<string> => `echo: ${request?.text ?? ''}`,
});

const port = Number(process.argv[2] ?? 9081);
// listen() never resolves; the SDK prints "Listening on <port>..." once it does listen.
void restate.endpoint().bindRouter('echo', echo).listen(port);
