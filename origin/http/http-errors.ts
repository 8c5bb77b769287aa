// How the local front answers what it does not forward: every answer is a registry error
// (`{"errors":[…]}` JSON, the same envelope as the apps' onError), written either through Node's
// response object or, when the HTTP parser gave up, straight onto the socket.

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { errorResponse, RegistryError } from "../../shared/errors.ts";
import { endAfterRequest } from "./drain.ts";

/** How long a closing connection keeps reading (and dropping) what the client still sends. */
const lingerMs = 2_000;

/** Maps a Node HTTP parser failure to the HTTP-level error it is. */
export function clientErrorOf(error: NodeJS.ErrnoException & { reason?: string }): RegistryError {
  switch (error.code) {
    case "HPE_HEADER_OVERFLOW":
      return new RegistryError(
        "HEADERS_TOO_LARGE",
        "the request's header fields are larger than this server accepts (16 KiB)",
      );
    case "HPE_INVALID_METHOD":
      return new RegistryError(
        "NOT_IMPLEMENTED",
        "unknown request method: this registry answers GET and HEAD",
      );
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return new RegistryError("REQUEST_TIMEOUT", "the request was not received in time");
    default:
      return new RegistryError(
        "BAD_REQUEST",
        `malformed HTTP request: ${error.reason ?? error.code ?? "unreadable"}`,
      );
  }
}

function serialise(error: RegistryError, method: string | undefined) {
  const response = errorResponse(error, method ?? "GET");
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => (headers[name] = value));
  const body = JSON.stringify(error.toBody());
  return { status: response.status, headers, body: method === "HEAD" ? "" : body };
}

/**
 * Answers through Node's response object, ending it once the request is read (drain.ts);
 * the connection stays usable unless asked to close.
 */
export function answerWithError(
  req: IncomingMessage,
  res: ServerResponse,
  error: RegistryError,
  maxDrainBytes: number,
  options: { close?: boolean } = {},
): void {
  const { status, headers, body } = serialise(error, req.method);
  if (options.close) headers.connection = "close";
  res.writeHead(status, headers);
  res.write(body);
  endAfterRequest(req, res, maxDrainBytes);
}

/**
 * Answers on a raw socket (after a parse failure, or for CONNECT and upgrades) and closes it
 * gracefully: FIN after the answer, then whatever the client still sends is read and dropped for
 * a moment, so the kernel does not reset the connection and discard the answer.
 */
export function writeRawError(socket: Socket, error: RegistryError, method?: string): void {
  const { status, headers, body } = serialise(error, method);
  const lines = [`HTTP/1.1 ${status} ${statusText(status)}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  lines.push("Connection: close", "", body);
  socket.on("data", () => {});
  socket.on("error", () => socket.destroy());
  socket.once("end", () => socket.destroy());
  socket.end(lines.join("\r\n"));
  setTimeout(() => socket.destroy(), lingerMs).unref();
}

function statusText(status: number): string {
  const texts: Record<number, string> = {
    400: "Bad Request",
    405: "Method Not Allowed",
    408: "Request Timeout",
    417: "Expectation Failed",
    431: "Request Header Fields Too Large",
    501: "Not Implemented",
    503: "Service Unavailable",
  };
  return texts[status] ?? "Error";
}
