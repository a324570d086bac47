# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# GENERATED from framework/fleet/runtimes.json by scripts/gen-contract.py (`make contract`).
# Do not edit: change the JSON and regenerate (tests/unit/test_runtimes.py checks both).
"""THE runtime table (framework/fleet/runtimes.json) as data that modules carry to hosts."""

from __future__ import annotations

TABLE = {
    'version': 1,
    'about': [
        (
            "THE runtime table: how launch-agent turns an agent's runtime "
            "and model_hint into the runtime's command line."
        ),
        (
            'Read by tools/fleet/launch-agent (through '
            'tools/fleet/mosaic_runtimes.py, a copy of '
            'plugins/module_utils/runtimes.py),'
        ),
        (
            'by fleet_roster (model hints, command lines) and fleet_ps '
            '(process names) through '
            'plugins/module_utils/runtime_table.py,'
        ),
        (
            'which scripts/gen-contract.py (make contract) generates from '
            'this file. docs/runtimes.md explains it; tests check all of '
            'them against it.'
        ),
        (
            "A runtime's argv is its 'command', then the 'args' of each "
            "part named in 'argv', in that order. A part's 'args' is a "
            'list of groups;'
        ),
        (
            'a group is left out when a placeholder it uses is empty. A '
            "part's 'env' and the runtime's 'env' become the extra "
            'environment:'
        ),
        (
            "the runtime's 'env' applies even when the agent's command "
            "replaces the table, a part's only with the table's argv."
        ),
        (
            'Placeholders: {home} MOSAIC_HOME, {tools} its tools/fleet '
            'directory, {hint} the model_hint as given, {provider} '
            '{model} {level}'
        ),
        (
            "its parts, {prompt} the agent's prompt, {instruction_files} "
            'the framework, mandate and comms files that exist (a list).'
        ),
        (
            '{resume} is set when the agent resumes (launch-agent), '
            "{user_home} the user's home and {workdir} the agent's "
            'working directory on the host.'
        ),
        (
            "A part with 'when' applies only when that value is set; with "
            "'when_exists', only when that glob matches on the host."
        ),
        (
            '{x:toml} writes x as a TOML string, {x:uri} as a file:// '
            'URL, {x:slug} with every character but letters and digits as '
            '\'-\'. An argument may also be {"json": value} (compact JSON) '
            'or'
        ),
        (
            '{"key": k, "toml": value} (k=<TOML value>), with the '
            'placeholders of the strings inside value filled in.'
        ),
        (
            "'package' is the npm package and the version the stand-up "
            'role installs for the fleet user (fleet_runtimes; '
            'tests/runtimes pins the same).'
        ),
    ],
    'model_hint': {
        'grammar': '[provider/]model[:level]',
        'levels': ['off', 'none', 'minimal', 'low', 'medium', 'high', 'xhigh'],
        'rules': [
            (
                "':level' is split off only when level is one of 'levels', so "
                "'llama3:8b' stays a model name."
            ),
            (
                "The provider is what comes before the first '/', the model "
                "the rest ('openrouter/anthropic/claude-x': provider "
                'openrouter).'
            ),
            (
                "Empty: the runtime's default model. Otherwise the model, and "
                "the provider when a '/' is given, must not be empty,"
            ),
            (
                "and the model must not end with ':'. 'uses' says which parts "
                'a runtime takes; a runtime that uses nothing accepts any '
                'hint.'
            ),
        ],
    },
    'runtimes': {
        'claude': {
            'title': 'Claude Code',
            'command': ['claude'],
            'package': {
                'npm': '@anthropic-ai/claude-code',
                'version': '2.1.197',
            },
            'argv': [
                'unattended',
                'root',
                'model',
                'heartbeat',
                'prompt',
                'resume',
            ],
            'root': {
                'how': (
                    'as root, IS_SANDBOX=1 (Claude refuses '
                    '--dangerously-skip-permissions as root without it)'
                ),
                'when': 'as_root',
                'args': [],
                'env': {
                    'IS_SANDBOX': '1',
                },
            },
            'resume': {
                'how': (
                    '--continue (the last conversation in the working directory), '
                    'only when Claude has one there: with none it exits'
                ),
                'when': 'resume',
                'when_exists': '{user_home}/.claude/projects/{workdir:slug}/*.jsonl',
                'args': [
                    ['--continue'],
                ],
            },
            'unattended': {
                'how': '--dangerously-skip-permissions',
                'args': [
                    ['--dangerously-skip-permissions'],
                ],
            },
            'model': {
                'how': '--model <hint> (as given: opus, sonnet, a full id)',
                'uses': ['hint'],
                'args': [
                    ['--model', '{hint}'],
                ],
            },
            'heartbeat': {
                'how': (
                    "--settings '<JSON>': a statusLine running heartbeat --status "
                    'every 5 s (idle too; its input is the metering), hooks '
                    'SessionStart, UserPromptSubmit, PostToolUse, Stop run '
                    'heartbeat --hook, Notification heartbeat --notify'
                ),
                'args': [
                    [
                        '--settings',
                        {
                            'json': {
                                'statusLine': {
                                    'type': 'command',
                                    'command': '"$MOSAIC_HOME/tools/fleet/heartbeat" --status',
                                    'refreshInterval': 5,
                                },
                                'hooks': {
                                    'SessionStart': [
                                        {
                                            'hooks': [
                                                {
                                                    'type': 'command',
                                                    'command': '"$MOSAIC_HOME/tools/fleet/heartbeat" --hook',
                                                    'timeout': 10,
                                                },
                                            ],
                                        },
                                    ],
                                    'UserPromptSubmit': [
                                        {
                                            'hooks': [
                                                {
                                                    'type': 'command',
                                                    'command': '"$MOSAIC_HOME/tools/fleet/heartbeat" --hook',
                                                    'timeout': 10,
                                                },
                                            ],
                                        },
                                    ],
                                    'PostToolUse': [
                                        {
                                            'matcher': '*',
                                            'hooks': [
                                                {
                                                    'type': 'command',
                                                    'command': '"$MOSAIC_HOME/tools/fleet/heartbeat" --hook',
                                                    'timeout': 10,
                                                },
                                            ],
                                        },
                                    ],
                                    'Notification': [
                                        {
                                            'hooks': [
                                                {
                                                    'type': 'command',
                                                    'command': '"$MOSAIC_HOME/tools/fleet/heartbeat" --notify',
                                                    'timeout': 10,
                                                },
                                            ],
                                        },
                                    ],
                                    'Stop': [
                                        {
                                            'hooks': [
                                                {
                                                    'type': 'command',
                                                    'command': '"$MOSAIC_HOME/tools/fleet/heartbeat" --hook',
                                                    'timeout': 10,
                                                },
                                            ],
                                        },
                                    ],
                                },
                            },
                        },
                    ],
                ],
            },
            'prompt': {
                'how': '--append-system-prompt <prompt>',
                'args': [
                    ['--append-system-prompt', '{prompt}'],
                ],
            },
            'env': {
                'CLAUDE_CODE_DISABLE_1M_CONTEXT': '1',
                'CLAUDE_CODE_AUTO_COMPACT_WINDOW': '200000',
                'DISABLE_AUTOUPDATER': '1',
                'CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC': '1',
                'CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL': '1',
                'DISABLE_INSTALLATION_CHECKS': '1',
            },
            'env_how': (
                "the fleet's 200k context cap; no self-update, installation "
                'checks or non-essential traffic'
            ),
            'health': {
                'idle': 'beats',
                'how': (
                    "the status line beats every 5 s while Claude's own process "
                    'runs, idle included (Claude Code >= 2.1.97); hooks beat on '
                    'activity'
                ),
                'waiting': {
                    'tail_lines': 25,
                    'notifications': {
                        'permission_prompt': 'permission prompt',
                        'elicitation_dialog': 'a question for a human',
                    },
                    'screen': [
                        {
                            'pattern': 'Do you want to proceed\\?',
                            'reason': 'permission prompt',
                        },
                        {
                            'pattern': 'Yes, I trust this folder',
                            'reason': 'workspace trust dialog',
                        },
                        {
                            'pattern': 'Do you want to use this API key\\?',
                            'reason': 'API key approval dialog',
                        },
                        {
                            'pattern': 'running in Bypass Permissions mode',
                            'reason': 'bypass-permissions acknowledgement',
                        },
                        {
                            'pattern': 'Select login method|Please run /login|Invalid API key',
                            'reason': 'login',
                        },
                        {
                            'pattern': 'Choose the text style|Syntax theme:',
                            'reason': 'first-run onboarding (theme)',
                        },
                        {
                            'pattern': (
                                '(?:limit reached|hit your limit)[^\\n]*?resets? '
                                '(?P<reset>[^\\n·∙|]+)'
                            ),
                            'reason': 'usage limit; resets {reset}',
                        },
                    ],
                },
                'metering': (
                    "the status line's input: model, context window size and used "
                    '%, total input and output tokens, cost, session id'
                ),
            },
            'process_names': ['claude', 'node'],
        },
        'codex': {
            'title': 'Codex CLI',
            'command': ['codex'],
            'package': {
                'npm': '@openai/codex',
                'version': '0.171.0',
            },
            'argv': ['resume', 'unattended', 'model', 'prompt', 'heartbeat'],
            'resume': {
                'how': 'resume --last (with none, a new conversation)',
                'when': 'resume',
                'args': [
                    ['resume', '--last'],
                ],
            },
            'unattended': {
                'how': '--dangerously-bypass-approvals-and-sandbox',
                'args': [
                    ['--dangerously-bypass-approvals-and-sandbox'],
                ],
            },
            'model': {
                'how': (
                    '-m M, and -c model_reasoning_effort="T"; a P/ prefix is '
                    "ignored (codex's provider comes from its config)"
                ),
                'uses': ['model', 'level'],
                'args': [
                    ['-m', '{model}'],
                    ['-c', 'model_reasoning_effort={level:toml}'],
                ],
            },
            'prompt': {
                'how': '-c developer_instructions="<prompt>" (a TOML string)',
                'args': [
                    ['-c', 'developer_instructions={prompt:toml}'],
                ],
            },
            'heartbeat': {
                'how': (
                    '-c notify=["…/heartbeat","--codex"] (runs after every turn; '
                    "records the turn's token counts)"
                ),
                'args': [
                    [
                        '-c',
                        {
                            'key': 'notify',
                            'toml': ['{tools}/heartbeat', '--codex'],
                        },
                    ],
                ],
            },
            'env': {},
            'health': {
                'idle': 'turn_end',
                'settle_seconds': 30,
                'how': (
                    'notify beats at each turn end only; idle after a turn (or '
                    'its start) with the pane unchanged since is healthy'
                ),
                'waiting': {
                    'tail_lines': 25,
                    'screen': [
                        {
                            'pattern': 'Would you like to run the following command\\?',
                            'reason': 'approval prompt',
                        },
                        {
                            'pattern': (
                                'hit your usage limit[^\\n]*?Try again at '
                                '(?P<reset>[^\\n]+?)\\.?$'
                            ),
                            'reason': 'usage limit; try again at {reset}',
                        },
                        {
                            'pattern': 'Sign in with ChatGPT',
                            'reason': 'login',
                        },
                    ],
                },
                'metering': (
                    "the session file's last token_count (read at each turn end): "
                    'model, context window, tokens in it, total input and output '
                    'tokens; no cost'
                ),
            },
            'process_names': ['node', 'codex'],
        },
        'pi': {
            'title': 'pi coding agent',
            'command': ['pi'],
            'package': {
                'npm': '@mariozechner/pi-coding-agent',
                'version': '0.73.1',
            },
            'argv': ['unattended', 'heartbeat', 'model', 'prompt', 'resume'],
            'resume': {
                'how': '-c (with none, a new session)',
                'when': 'resume',
                'args': [
                    ['-c'],
                ],
            },
            'unattended': {
                'how': 'none needed (pi runs its tools without asking)',
                'args': [],
            },
            'heartbeat': {
                'how': (
                    '-e <MOSAIC_HOME>/tools/fleet/pi-heartbeat.ts, an extension '
                    'that beats at start, on agent events and every '
                    "MOSAIC_HEARTBEAT_INTERVAL s while pi's event loop runs"
                ),
                'args': [
                    ['-e', '{tools}/pi-heartbeat.ts'],
                ],
            },
            'model': {
                'how': '--provider P --model M --thinking T',
                'uses': ['provider', 'model', 'level'],
                'args': [
                    ['--provider', '{provider}'],
                    ['--model', '{model}'],
                    ['--thinking', '{level}'],
                ],
            },
            'prompt': {
                'how': '--append-system-prompt <prompt>',
                'args': [
                    ['--append-system-prompt', '{prompt}'],
                ],
            },
            'env': {
                'PI_OFFLINE': '1',
                'PI_SKIP_VERSION_CHECK': '1',
                'PI_TELEMETRY': '0',
            },
            'env_how': (
                'no startup network operations (version check, tool '
                'downloads) or install telemetry'
            ),
            'health': {
                'idle': 'beats',
                'how': (
                    'the extension beats every MOSAIC_HEARTBEAT_INTERVAL s while '
                    "pi's event loop runs"
                ),
                'metering': (
                    "the extension's message_end events: model, context window "
                    "and used % (pi's own estimate), total input and output "
                    "tokens, cost (pi's price table)"
                ),
            },
            'process_names': ['node', 'pi'],
        },
        'opencode': {
            'title': 'opencode',
            'command': ['opencode'],
            'package': {
                'npm': 'opencode-ai',
                'version': '1.18.33',
            },
            'argv': [
                'unattended',
                'model',
                'prompt',
                'heartbeat',
                'config',
                'resume',
            ],
            'resume': {
                'how': '-c (with none, a new session)',
                'when': 'resume',
                'args': [
                    ['-c'],
                ],
            },
            'unattended': {
                'how': '"permission": "allow" in OPENCODE_CONFIG_CONTENT',
                'args': [],
            },
            'model': {
                'how': '--model <hint> (provider/model)',
                'uses': ['hint'],
                'args': [
                    ['--model', '{hint}'],
                ],
            },
            'prompt': {
                'how': (
                    '"instructions": [the framework files and comms sheet that '
                    'exist] in OPENCODE_CONFIG_CONTENT'
                ),
                'args': [],
            },
            'heartbeat': {
                'how': (
                    '"plugin": ["file://…/tools/fleet/opencode-heartbeat.js"] in '
                    "OPENCODE_CONFIG_CONTENT: beats at start, on opencode's "
                    'events and every MOSAIC_HEARTBEAT_INTERVAL s'
                ),
                'args': [],
            },
            'config': {
                'how': (
                    'OPENCODE_CONFIG_CONTENT={"permission":"allow","plugin":[…],"instructions":[…]}'
                ),
                'args': [],
                'env': {
                    'OPENCODE_CONFIG_CONTENT': {
                        'json': {
                            'permission': 'allow',
                            'plugin': ['{tools:uri}/opencode-heartbeat.js'],
                            'instructions': '{instruction_files}',
                        },
                    },
                },
            },
            'env': {
                'OPENCODE_DISABLE_AUTOUPDATE': '1',
                'OPENCODE_DISABLE_MODELS_FETCH': '1',
                'OPENCODE_DISABLE_SHARE': '1',
                'OPENCODE_DISABLE_LSP_DOWNLOAD': '1',
                'OPENCODE_DISABLE_DEFAULT_PLUGINS': '1',
            },
            'env_how': (
                'no self-update, model catalogue fetch, sharing, LSP '
                'downloads or default plugins'
            ),
            'health': {
                'idle': 'beats',
                'how': (
                    'the plugin beats every MOSAIC_HEARTBEAT_INTERVAL s while '
                    "opencode's event loop runs"
                ),
                'metering': (
                    "the plugin's message.updated events: model, tokens in the "
                    'context (last message), total input and output tokens, cost; '
                    'no context window size'
                ),
            },
            'process_names': ['opencode', 'node', 'bun'],
        },
        'stub': {
            'title': "the framework's fake agent (canaries and tests)",
            'command': ['python3', '{tools}/stub-agent'],
            'argv': ['unattended', 'model', 'prompt', 'heartbeat'],
            'unattended': {
                'how': '—',
                'args': [],
            },
            'model': {
                'how': 'ignored',
                'uses': [],
                'args': [],
            },
            'prompt': {
                'how': '— (it is not a model)',
                'args': [],
            },
            'heartbeat': {
                'how': 'beats by itself',
                'args': [],
            },
            'env': {},
            'health': {
                'idle': 'beats',
                'how': 'beats by itself every MOSAIC_HEARTBEAT_INTERVAL s',
                'metering': 'none',
            },
            'process_names': ['python3', 'python', 'stub-agent'],
        },
    },
}
