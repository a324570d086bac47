/**
 * mosaic.fleet heartbeat extension for pi (loaded by launch-agent with `pi -e <this file>`).
 *
 * Writes $MOSAIC_HOME/fleet/run/$MOSAIC_AGENT_NAME.heartbeat ("<epoch-seconds> <pid>\n", a
 * temporary file renamed over the old one; see fleet/HEARTBEAT.md) when pi starts, on its agent
 * events, and every $MOSAIC_HEARTBEAT_INTERVAL seconds (default 5) while its event loop runs, so a
 * hung pi stops beating. Never throws: a heartbeat problem must not disturb the agent.
 *
 * Hang restarts (the roster's restart_on_hang): under the agent's unit with a watchdog
 * (MOSAIC_NOTIFY_SOCKET and MOSAIC_WATCHDOG_SEC set) each timer beat also runs tools/fleet/heartbeat
 * (watchdog-feed.mjs beside this file),
 * which sends WATCHDOG=1 to the unit (one at a time; the timer then runs at least 3 times per
 * watchdog period). A blocked event loop stops feeding it and systemd restarts pi; an idle pi keeps
 * feeding it.
 *
 * Metering (read-only): after each assistant message it writes $MOSAIC_AGENT_NAME.meter.json
 * beside the heartbeat (the record of plugins/module_utils/metering.py, source "pi"): the model,
 * pi's context usage (window, tokens, percent) and the session's input/output tokens and cost
 * (pi's price table) summed over the messages this process saw.
 */
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { watchdogFeed } from "./watchdog-feed.mjs";

export default function (pi: any) {
	const name = process.env.MOSAIC_AGENT_NAME;
	const home = process.env.MOSAIC_HOME;
	if (!name || !home) return;
	const dir = join(home, "fleet", "run");
	const pid = Number(process.env.MOSAIC_RUNTIME_PID) || process.pid;
	const totals = { input: 0, output: 0, cost: 0, costKnown: false };
	const meter = (event: any, ctx: any) => {
		try {
			const message = event?.message;
			if (!message || message.role !== "assistant") return;
			const usage = message.usage || {};
			totals.input += Number(usage.input) || 0;
			totals.output += Number(usage.output) || 0;
			if (usage.cost && typeof usage.cost.total === "number") {
				totals.cost += usage.cost.total;
				totals.costKnown = true;
			}
			const context = typeof ctx?.getContextUsage === "function" ? ctx.getContextUsage() : undefined;
			const record: Record<string, unknown> = {
				at: Math.floor(Date.now() / 1000),
				source: "pi",
				model: ctx?.model?.id || message.model,
				input_tokens: totals.input,
				output_tokens: totals.output,
			};
			if (totals.costKnown) record.cost_usd = Math.round(totals.cost * 1e6) / 1e6;
			if (context) {
				record.context_window = context.contextWindow;
				if (typeof context.tokens === "number") record.context_tokens = context.tokens;
				if (typeof context.percent === "number") record.context_used_pct = Math.round(context.percent * 10) / 10;
			}
			if (typeof ctx?.sessionManager?.getSessionId === "function") record.session_id = ctx.sessionManager.getSessionId();
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
	for (const event of ["session_start", "input", "agent_start", "turn_end", "tool_execution_end", "agent_end"]) {
		pi.on(event, async () => beat());
	}
	pi.on("message_end", async (event: any, ctx: any) => meter(event, ctx));
	const seconds = Number(process.env.MOSAIC_HEARTBEAT_INTERVAL) || 5;
	const { feed, period } = watchdogFeed(home, seconds);
	const timer = setInterval(() => { beat(); feed(); }, period * 1000);
	if (typeof timer.unref === "function") timer.unref();
	beat();
	feed();
}
