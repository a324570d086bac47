// mosaic.fleet heartbeat plugin for opencode. launch-agent lists it (as a file:// URL) in the
// "plugin" key of OPENCODE_CONFIG_CONTENT, so opencode loads it for fleet agents only.
//
// Writes $MOSAIC_HOME/fleet/run/$MOSAIC_AGENT_NAME.heartbeat ("<epoch-seconds> <pid>\n", a
// temporary file renamed over the old one; see fleet/HEARTBEAT.md) when opencode starts, on its
// events, and every $MOSAIC_HEARTBEAT_INTERVAL seconds (default 5) while its event loop runs.
// Never throws: a heartbeat problem must not disturb the agent.
//
// Hang restarts (the roster's restart_on_hang): under the agent's unit with a watchdog
// (MOSAIC_NOTIFY_SOCKET and MOSAIC_WATCHDOG_SEC set) each timer beat also runs tools/fleet/heartbeat
// (watchdog-feed.mjs beside this file),
// which sends WATCHDOG=1 to the unit (one at a time; the timer then runs at least 3 times per
// watchdog period). A blocked event loop stops feeding it and systemd restarts opencode; an idle
// opencode keeps feeding it.
//
// Metering (read-only): on each assistant message update (event message.updated) it writes
// $MOSAIC_AGENT_NAME.meter.json beside the heartbeat (the record of
// plugins/module_utils/metering.py, source "opencode"): the model, the tokens of the last
// request (what is in the context now), and input/output tokens and cost summed over the
// assistant messages this process saw. opencode does not tell a plugin its context window.
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { watchdogFeed } from "./watchdog-feed.mjs";

export const MosaicHeartbeat = async () => {
  const name = process.env.MOSAIC_AGENT_NAME;
  const home = process.env.MOSAIC_HOME;
  if (!name || !home) return {};
  const dir = join(home, "fleet", "run");
  const pid = Number(process.env.MOSAIC_RUNTIME_PID) || process.pid;
  const messages = new Map();
  const meter = (info) => {
    try {
      if (!info || info.role !== "assistant" || !info.id) return;
      const tokens = info.tokens || {};
      const cache = tokens.cache || {};
      messages.set(info.id, {
        input: Number(tokens.input) || 0,
        output: Number(tokens.output) || 0,
        cost: typeof info.cost === "number" ? info.cost : 0,
      });
      let input = 0;
      let output = 0;
      let cost = 0;
      for (const m of messages.values()) {
        input += m.input;
        output += m.output;
        cost += m.cost;
      }
      const record = {
        at: Math.floor(Date.now() / 1000),
        source: "opencode",
        model: info.providerID && info.modelID ? `${info.providerID}/${info.modelID}` : info.modelID,
        input_tokens: input,
        output_tokens: output,
        cost_usd: Math.round(cost * 1e6) / 1e6,
        session_id: info.sessionID,
      };
      const inContext = (Number(tokens.input) || 0) + (Number(cache.read) || 0) + (Number(cache.write) || 0)
        + (Number(tokens.output) || 0);
      if (inContext > 0) record.context_tokens = inContext;
      mkdirSync(dir, { recursive: true });
      const tmp = join(dir, `.${name}.meter.json.${process.pid}`);
      writeFileSync(tmp, `${JSON.stringify(record)}\n`);
      renameSync(tmp, join(dir, `${name}.meter.json`));
    } catch {
      // ignored on purpose
    }
  };
  const beat = () => {
    try {
      mkdirSync(dir, { recursive: true });
      const tmp = join(dir, `.${name}.heartbeat.${process.pid}`);
      writeFileSync(tmp, `${Math.floor(Date.now() / 1000)} ${pid}\n`);
      renameSync(tmp, join(dir, `${name}.heartbeat`));
    } catch {
      // ignored on purpose
    }
  };
  const seconds = Number(process.env.MOSAIC_HEARTBEAT_INTERVAL) || 5;
  const { feed, period } = watchdogFeed(home, seconds);
  const timer = setInterval(() => { beat(); feed(); }, period * 1000);
  if (typeof timer.unref === "function") timer.unref();
  beat();
  feed();
  return {
    event: async (input) => {
      beat();
      const event = input && input.event;
      if (event && event.type === "message.updated") meter(event.properties && event.properties.info);
    },
    "tool.execute.after": async () => beat(),
  };
};
