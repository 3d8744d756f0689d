"""The load generator of benchmarks/load.py: signed web-channel messages over keep-alive HTTP/1.1.

A minimal client on asyncio streams rather than httpx: on this machine httpx 0.28 spent ~760 µs
of CPU per request and fell to ~220 req/s at 50 connections, so it would have measured itself;
this client costs ~20 µs per request. It speaks only what the two servers answer (uvicorn with a
Content-Length); anything else raises.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

# What customers write: FAQ questions phrased unlike faq/data/shop.yaml, small talk and questions the
# FAQ does not cover, and angry messages (which hand off). Each was checked to take its path on a
# conversation's first turn (answer; clarify or suggest; handoff).
FAQ = (
    "请问大概多久发货呀", "今天下单明天能发出吗", "你们家默认发什么快递", "可以给我发顺丰吗", "物流信息在哪里查",
    "快递一般几天能到", "请问包邮吗", "只买一件包不包邮", "西藏可以寄吗", "支持七天无理由退货吗", "退货要怎么操作",
    "退款几天能到账", "有没有送运费险", "尺码买大了可以换吗", "保修期是多久", "可以开发票吗", "农村能送得到吗",
    "说明书不见了怎么装", "刚买就降价了能补差价吗", "哪里可以领优惠券", "能用花呗分期吗", "积分可以抵现吗",
    "尺码偏大还是偏小啊", "你们家是正品吗", "这款什么时候补货", "买这个有赠品送吗", "定金可以退吗",
    "安装需要师傅上门吗",
)  # fmt: skip
SMALL_TALK = (
    "你好", "哈哈好的", "谢谢", "你是机器人吗", "今天心情不错", "这个颜色显白吗", "你们老板是谁", "随便看看", "嗯嗯",
    "晚上吃什么好",
)  # fmt: skip
ANGRY = (
    "你们这什么破服务！！我要投诉", "气死我了，买的东西用两天就坏了！！！", "垃圾店铺，再也不买了！！",
    "你们是不是不想做生意了！！", "什么垃圾质量，气死我了！！！", "骗子吧你们，和图片完全不一样！！",
)  # fmt: skip
MIX = ((FAQ, 0.7), (SMALL_TALK, 0.2), (ANGRY, 0.1))


class Messages:
    """Signed webhook requests from `customers` distinct customers, ids prefixed by the phase's name.

    With `angry_leave`, a customer who sent an angry message (handed off) sends no more and a new
    customer takes their place: their later messages would wait for a person, which the bot reads
    but does not answer, so with few customers each writing often, a phase would measure cheaper
    work than one with many (40% of the messages with 1k customers, none with 100k)."""

    def __init__(
        self,
        prefix: str,
        customers: int,
        secret: str,
        seed: int = 7,
        *,
        angry_leave: bool = False,
        mix: tuple[tuple[tuple[str, ...], float], ...] = MIX,
    ) -> None:
        self.prefix, self.customers, self.mix = prefix, customers, mix
        self._secret = secret.encode()
        self._rng = random.Random(f"{seed}-{prefix}")
        self._count = 0
        self._angry_leave = angry_leave
        self._replaced: dict[int, int] = {}  # a customer's place -> the number of who writes from it now
        self._newcomers = 0

    def next(self) -> tuple[str, bytes]:
        """(message id, raw HTTP request)."""
        self._count += 1
        message_id = f"{self.prefix}-{self._count}"
        texts = self._rng.choices([texts for texts, _ in self.mix], weights=[w for _, w in self.mix])[0]
        place = self._rng.randrange(self.customers)
        number = self._replaced.get(place, place)
        if self._angry_leave and texts is ANGRY:  # someone new writes from this place next time
            self._newcomers += 1
            self._replaced[place] = self.customers + self._newcomers
        customer = f"{self.prefix}-c{number}"
        body = json.dumps(
            {"message_id": message_id, "customer_id": customer, "text": self._rng.choice(texts)}, ensure_ascii=False
        ).encode()
        ts = str(int(time.time()))
        digest = hmac.new(self._secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-Kefu-Timestamp": ts, "X-Kefu-Signature": f"sha256={digest}"}
        return message_id, request_bytes("POST", "/webhooks/web", body, headers)


def request_bytes(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Connection:
    """One keep-alive connection; `send` returns the status code, reconnecting when the server closed it."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def send(self, request: bytes) -> int:
        if self._streams is None:
            self._streams = await asyncio.open_connection("127.0.0.1", self._port)
        reader, writer = self._streams
        try:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status, length, close = _parse_head(head)
            await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError):
            self.close()
            raise
        if close:
            self.close()
        return status

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


def _parse_head(head: bytes) -> tuple[int, int, bool]:
    lines = head.decode("latin-1").split("\r\n")
    fields = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    if "content-length" not in fields:
        raise ValueError(f"response without Content-Length: {lines[0]}")
    return int(lines[0].split(" ", 2)[1]), int(fields["content-length"]), fields.get("connection") == "close"


@dataclass
class Sent:
    """What the generator saw: when each message left (perf_counter) and how each request was answered."""

    at: dict[str, float] = field(default_factory=dict)
    ack_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    unsent: int = 0  # open loop: offered, but no connection was free before the phase ended

    @property
    def accepted(self) -> int:
        return self.statuses.get(200, 0)

    async def one(self, connection: Connection, message_id: str, request: bytes, since: float | None = None) -> None:
        """Send and record; latency counts from `since` (the scheduled time in open loop) when given."""
        start = time.perf_counter() if since is None else since
        try:
            status = await connection.send(request)
        except (OSError, asyncio.IncompleteReadError):
            self.errors += 1
            return
        self.ack_ms.append((time.perf_counter() - start) * 1000)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status == 200:
            self.at[message_id] = start


def _ports(port: int | Sequence[int]) -> list[int]:
    """One server's port, or several behind an imagined round-robin load balancer."""
    return [port] if isinstance(port, int) else list(port)


async def closed_loop(port: int | Sequence[int], messages: Messages, *, clients: int, seconds: float) -> Sent:
    """`clients` connections, each sending its next message as soon as the last is answered.

    With several ports each client keeps a connection to every one and sends its messages to them in
    turn, as a round-robin load balancer would; still one message in flight per client."""
    sent, deadline, ports = Sent(), time.perf_counter() + seconds, _ports(port)

    async def client(first: int) -> None:
        connections, count = [Connection(p) for p in ports], first
        while time.perf_counter() < deadline:
            await sent.one(connections[count % len(connections)], *messages.next())
            count += 1
        for connection in connections:
            connection.close()

    await asyncio.gather(*(client(n) for n in range(clients)))
    return sent


async def open_loop(
    port: int | Sequence[int], messages: Messages, *, rate: float, seconds: float, connections: int = 200
) -> Sent:
    """Offer `rate` messages per second whatever the answers; latency counts from each message's scheduled time.

    At most `connections` requests are in flight; messages still waiting for a connection when the
    phase ends are not sent (counted in `unsent`), so a saturated server is not fed a backlog. With
    several ports the messages go to each in turn and the connections are split between them.
    The requests are made before the phase starts: the generator shares the machine with what it
    measures, and signing them as they go took 3-4% of a core at 1,000 msg/s."""
    sent, phase_over, ports = Sent(), asyncio.Event(), _ports(port)
    pools = [asyncio.Queue() for _ in ports]
    for n in range(connections):
        pools[n % len(pools)].put_nowait(Connection(ports[n % len(ports)]))

    async def one(message_id: str, request: bytes, scheduled: float, pool: asyncio.Queue) -> None:
        connection = await pool.get()
        try:
            if phase_over.is_set():
                sent.unsent += 1
            else:
                await sent.one(connection, message_id, request, since=scheduled)
        finally:
            pool.put_nowait(connection)

    total = int(seconds * rate)
    prepared = [messages.next() for _ in range(total)]  # built and signed before the clock starts: see below
    start, count, tasks = time.perf_counter(), 0, set()
    while (now := time.perf_counter()) < start + seconds:
        while count < total and start + count / rate <= now:  # each message as soon as its time has come
            task = asyncio.create_task(one(*prepared[count], start + count / rate, pools[count % len(pools)]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            count += 1
        await asyncio.sleep(0.001)
    phase_over.set()
    if tasks:
        await asyncio.wait(tasks)
    for pool in pools:
        while not pool.empty():
            pool.get_nowait().close()
    return sent
