// Ending a response on a connection whose request may still be sending its body. Closing a TCP
// connection with unread bytes makes the kernel answer with a reset, and a reset makes the
// client's kernel discard the answer it has not yet read: so the rest of the body is read and
// dropped before the response ends (and before Node may close the connection).

import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * Ends the response once the request has been read to its end, dropping what the Worker did not
 * read. A client that keeps sending past `maxDrainBytes` gets its answer ended and the
 * connection closed.
 */
export function endAfterRequest(
  req: IncomingMessage,
  res: ServerResponse,
  maxDrainBytes: number,
): void {
  if (req.complete) {
    res.end();
    return;
  }
  let drained = 0;
  let ended = false;
  const stop = () => {
    if (ended) return;
    ended = true;
    req.off("data", count);
    res.end();
  };
  const count = (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > maxDrainBytes) {
      stop();
      res.once("finish", () => req.socket.destroy());
    }
  };
  req.on("data", count);
  req.once("end", stop);
  req.once("close", stop);
  req.resume();
}
