// mosaic.fleet: the hang watchdog's feed for the runtimes whose heartbeat beats from a timer in
// node's event loop (pi-heartbeat.ts and opencode-heartbeat.js import it, beside them).
//
// Under the agent's unit with a watchdog (the roster's restart_on_hang: MOSAIC_NOTIFY_SOCKET and
// MOSAIC_WATCHDOG_SEC set by start-agent-session.sh) feed() runs tools/fleet/heartbeat, which sends
// WATCHDOG=1 to the unit (one run at a time), and period() is the beat timer's period: the beat
// interval, but at least 3 beats per watchdog period. Called from the timer, a blocked event loop
// stops feeding and systemd restarts the runtime; an idle runtime keeps feeding. Without a
// watchdog feed() does nothing. Never throws.
import { spawn } from "node:child_process";
import { join } from "node:path";

export function watchdogFeed(home, seconds) {
  const watchdog = Number(process.env.MOSAIC_WATCHDOG_SEC) || 0;
  const tool = process.env.MOSAIC_NOTIFY_SOCKET && watchdog > 0 ? join(home, "tools", "fleet", "heartbeat") : "";
  let running = false;
  const feed = () => {
    if (!tool || running) return;
    running = true;
    try {
      const child = spawn(tool, [], { stdio: "ignore" });
      child.on("error", () => { running = false; });
      child.on("exit", () => { running = false; });
    } catch {
      running = false;
    }
  };
  return { feed, period: Math.max(1, tool ? Math.min(seconds, watchdog / 3) : seconds) };
}
