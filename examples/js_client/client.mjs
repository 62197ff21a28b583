// A spinnlive bridge client in JavaScript (docs/wire-format.md is the whole contract).
//
//   node client.mjs [DISCOVERY] [OUT_LABEL] [IN_LABEL] [IDS] [MESSAGES]
//   node client.mjs tcp://127.0.0.1:5570 out stim 0,3,5 3
//
// It asks the discovery REP socket for the description, subscribes to spikes/OUT_LABEL (then
// to sync/<token>: once the bridge echoes it the subscription is live), pushes inject/IN_LABEL
// with the ids as little-endian uint32, and prints one line per spike message:
//   spikes/out epoch 1 tick 1234 seq 5 ids 0 3 5
// until MESSAGES messages arrived. Every wait has a deadline (10 s).
import * as zmq from "zeromq";

const [discovery = "tcp://127.0.0.1:5570", outLabel = "out", inLabel = "stim",
  idList = "0", wanted = "1"] = process.argv.slice(2);
const TIMEOUT_MS = 10000;

function deadline(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function describe() {
  const req = new zmq.Request({ linger: 0 });
  req.connect(discovery);
  await req.send("describe");
  const [reply] = await deadline(req.receive(), `no bridge answered at ${discovery}`);
  req.close();
  return JSON.parse(reply.toString("utf8"));
}

function header(frame) {  // struct <BBHIIII: version, flags, reserved, epoch, tick, seq, count
  return { flags: frame.readUInt8(1), epoch: frame.readUInt32LE(4),
    tick: frame.readUInt32LE(8), seq: frame.readUInt32LE(12), count: frame.readUInt32LE(16) };
}

const description = await describe();
console.log(`bridge state ${description.state} epoch ${description.epoch}: ` +
  description.populations.map((p) => `${p.topic}(${p.size})`).join(" "));

const topic = `spikes/${outLabel}`;
const sync = `sync/js-${process.pid}`;
const sub = new zmq.Subscriber({ linger: 0 });
sub.connect(description.endpoints.publish);
sub.subscribe(topic);
sub.subscribe(sync);
for (;;) {  // slow joiner: wait for the echo of our own sync topic
  const [t] = await deadline(sub.receive(), `bridge did not confirm ${topic}`);
  if (t.toString() === sync) break;
}
sub.unsubscribe(sync);

const push = new zmq.Push({ linger: 1000 });
push.connect(description.endpoints.input);
const ids = idList.split(",").map(Number);
const payload = Buffer.alloc(4 * ids.length);
ids.forEach((id, k) => payload.writeUInt32LE(id, 4 * k));
await deadline(push.send([`inject/${inLabel}`, payload]), "the bridge did not take the input");
console.log(`injected ${inLabel} ${ids.join(" ")}`);

for (let n = 0; n < Number(wanted); n++) {
  const [t, head, body] = await deadline(sub.receive(), `no message on ${topic}`);
  const h = header(head);
  const got = [];
  for (let k = 0; k < h.count; k++) got.push(body.readUInt32LE(4 * k));
  console.log(`${t.toString()} epoch ${h.epoch} tick ${h.tick} seq ${h.seq} ids ${got.join(" ")}`);
}
sub.close();
push.close();
