// Per-connection bridge for qemu's guestfwd "cmd:" form: slirp runs this once
// for every TCP connection the guest opens and wires the connection to our
// stdin/stdout; we relay it to host:port. (The "tcp:" chardev form opens ONE
// host connection at start-up and feeds every guest connection into it, which
// mixes up concurrent HTTP requests: a client fetching in parallel gets the
// answer to another request.)
import { connect } from 'node:net';

const [host, port] = process.argv.slice(2);
const sock = connect(Number(port), host);
process.stdin.pipe(sock);
sock.pipe(process.stdout);
sock.on('error', (err) => {
  process.stderr.write(`tcp-pipe: ${err.message}\n`);
  process.exit(1);
});
sock.on('close', () => process.exit(0));
