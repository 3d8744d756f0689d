"""The daily report as one self-contained HTML page: Chinese labels, inline CSS, no script, nothing fetched.

Every value from the store (agent names, reason codes) is escaped; the page is safe to mail or archive.
"""

from __future__ import annotations

from html import escape

STYLE = """
body { font-family: -apple-system, "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC",
  Arial, sans-serif; background: #eceef2; color: #222; font-size: 14px; margin: 0; }
header { padding: 16px 24px; color: #fff; background: linear-gradient(135deg, #ff7a2f, #ff4d1a); }
header h1 { margin: 0; font-size: 18px; } header p { margin: 4px 0 0; font-size: 12px; opacity: .9; }
main { padding: 20px 24px; display: flex; flex-direction: column; gap: 16px; max-width: 1100px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 12px; }
.tile, .card { background: #fff; border-radius: 12px; padding: 14px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.06); }
.tile .label { color: #888; font-size: 13px; } .tile .value { font-size: 26px; font-weight: 600; margin: 6px 0 2px; }
.tile .sub, .muted { color: #999; font-size: 12px; } .warn { color: #d9480f; }
.card h2 { margin: 0 0 10px; font-size: 14px; color: #444; }
.cards { display: grid; grid-template-columns: repeat(3, 1fr); gap: 12px; }
table { width: 100%; border-collapse: collapse; }
th, td { padding: 7px 10px; text-align: left; border-bottom: 1px solid #f1f2f4; }
th { color: #777; font-weight: 500; font-size: 13px; background: #fafbfc; }
td.num { font-variant-numeric: tabular-nums; }
"""

DEFINITIONS = (
    "口径：首响 = 转人工到客服首次回复（不含留言）；"
    "一次解决 = 客服结束、期间未转接或重新排队、客户 24 小时内未再发起会话；"
    "机器人拦截 = 当天新会话中未转人工的比例；"
    "再咨询 = 收到机器人 FAQ 答复的客户在最后一次答复后 24 小时内再次发消息的比例；"
    "质检分 = 当天结束的会话的抽检评分。"
)


def render_html(report: dict) -> str:
    title = f"客服日报 {report['date']}"
    status = "" if report["complete"] else '<p class="warn">次日尚未结束：24 小时再咨询类指标为暂定值</p>'
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{STYLE}</style></head>
<body>
<header><h1>{escape(title)}</h1><p>北京时间 {escape(report["start"][:10])} 00:00–24:00 ·
生成于 {escape(report["generated_at"][:16].replace("T", " "))}</p></header>
<main>
{status}
<section class="tiles">{_tiles(report)}</section>
<section class="cards">
{_card("满意度分布", ("评分", "数量"), _rows(report["satisfaction"]["distribution"], suffix=" 分"))}
{_card("转人工级别", ("级别", "数量"), _rows(report["complaints"]["by_level"]))}
{_card("结束原因", ("原因", "数量"), _rows(report["complaints"]["by_disposition"]))}
</section>
{_agents(report["agents"])}
<p class="muted">{DEFINITIONS}</p>
</main>
</body>
</html>
"""


def _tiles(report: dict) -> str:
    first, one, bot, again = (report[k] for k in ("first_response", "one_touch", "bot_containment", "bot_recontact"))
    answered = f"{again['recontacted']} / {again['customers_answered']} 位客户"
    rated = report["satisfaction"]
    target = f"{report['first_response_target_seconds']:g}"
    tiles = [
        ("首响中位数", _seconds(first["median"]), f"P90 {_seconds(first['p90'])} · {first['count']} 个会话"),
        (f"首响 {target} 秒内", _percent(first["target_share"]), f"{first['within_target']} / {first['count']}"),
        ("一次解决率", _percent(one["rate"]), f"{one['one_touch']} / {one['closed_by_agents']} 个客服结束的会话"),
        ("机器人拦截率", _percent(bot["rate"]), f"{bot['contained']} / {bot['started']} 个新会话"),
        ("答复后 24 小时再咨询", _percent(again["rate"]), answered),
        ("满意度", "—" if rated["average"] is None else f"{rated['average']:.2f}", f"{rated['count']} 个评价"),
    ]
    return "".join(
        f'<div class="tile"><div class="label">{escape(label)}</div><div class="value">{escape(value)}</div>'
        f'<div class="sub">{escape(sub)}</div></div>'
        for label, value, sub in tiles
    )


def _card(title: str, head: tuple[str, ...], rows: str) -> str:
    return f'<div class="card"><h2>{escape(title)}</h2><table>{_head(head)}{rows}</table></div>'


def _head(names: tuple[str, ...]) -> str:
    return "<tr>" + "".join(f"<th>{escape(n)}</th>" for n in names) + "</tr>"


def _rows(counts: dict, suffix: str = "") -> str:
    if not counts:
        return '<tr><td colspan="2" class="muted">无</td></tr>'
    return "".join(f'<tr><td>{escape(str(k))}{suffix}</td><td class="num">{v}</td></tr>' for k, v in counts.items())


def _agents(agents: list[dict]) -> str:
    head = ("客服", "结束会话", "一次解决率", "满意度", "质检数", "礼貌", "准确", "解决", "综合")
    rows = "".join(_agent_row(a) for a in agents) or f'<tr><td colspan="{len(head)}" class="muted">无</td></tr>'
    return f'<section class="card"><h2>客服明细</h2><table>{_head(head)}{rows}</table></section>'


def _agent_row(agent: dict) -> str:
    reviews = agent["reviews"] or {}
    name = agent["name"] or agent["id"]
    cells = [
        agent["closed"],
        _percent(agent["one_touch"]["rate"]),
        "—" if agent["satisfaction"] is None else f"{agent['satisfaction']:.2f}",
        reviews.get("count", 0),
        *(_score(reviews.get(k)) for k in ("politeness", "accuracy", "resolution", "overall")),
    ]
    tds = "".join(f'<td class="num">{escape(str(c))}</td>' for c in cells)
    return f"<tr><td>{escape(name)} <span class='muted'>{escape(agent['username'] or '')}</span></td>{tds}</tr>"


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.1f}%"


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:g} 秒"


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"
