// mosaic.fleet heartbeat plugin for opencode. launch-agent lists it (as a file:// URL) in the
// "plugin" key of OPENCODE_CONFIG_CONTENT, so opencode loads it for fleet agents only.
//
// Writes $MOSAIC_HOME/fleet/run/$MOSAIC_AGENT_NAME.heartbeat ("<epoch-seconds> <pid>\n", a
// temporary file renamed over the old one; see fleet/HEARTBEAT.md) when opencode starts, on its
// events, and every $MOSAIC_HEARTBEAT_INTERVAL seconds (default 5) while its event loop runs.
// Never throws: a heartbeat problem must not disturb the agent.
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const MosaicHeartbeat = async () => {
  const name = process.env.MOSAIC_AGENT_NAME;
  const home = process.env.MOSAIC_HOME;
  if (!name || !home) return {};
  const dir = join(home, "fleet", "run");
  const pid = Number(process.env.MOSAIC_RUNTIME_PID) || process.pid;
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
  const timer = setInterval(beat, Math.max(1, seconds) * 1000);
  if (typeof timer.unref === "function") timer.unref();
  beat();
  return {
    event: async () => beat(),
    "tool.execute.after": async () => beat(),
  };
};
