"""Seeds the demo with six weeks of client mail and the team's work on it, through the app's own code."""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

import time_machine
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from classifiers import LABELS, Prediction
from db.models import Event, Item, Mailbox, Organization, OutboxMail, ReplyTemplate, Survey, User
from db.queries import lock_mailbox
from db.types import utcnow
from intake.client_settings import client_mail_settings
from intake.config import Config
from intake.filing import store_one
from intake.parsed import parse_one
from intake.values import RawMail
from responders.client_mail import rate
from responders.sender import book_handed, mark_handed
from responders.sla_warnings import check_sla
from review.actions import Outgoing, assign, change_status, reply, save_assessment, send_assessment
from review.corrections import correct_category
from review.viewer import Viewer, viewer_of

# The mail of the history is stored as if read from this mailbox, which no configuration names: it marks the
# seeded rows, and it is how a later run knows the history is there.
MAILBOX = "demo-history"
MODEL_VERSION = "demo-history"
MARK = "Demo data: made up by deploy/demo.sh to show weeks of history; not a real client's mail."
SEED = 20261206
WEEKS = 6
H = 3600.0

# Organization domain -> (display name, contacts); the names say they are demo data.
CLIENTS = {
    "northwind.example": ("Northwind Traders (demo)", [("Laura Callahan", "laura"), ("Ravi Patel", "ravi")]),
    "fabrikam.example": ("Fabrikam (demo)", [("Sofia Marin", "sofia")]),
    "huadong.example": ("华东物流 (演示)", [("王芳", "wangfang"), ("刘洋", "liuyang")]),
    "xinghe.example": ("星河软件 (演示)", [("陈静", "chenjing")]),
}
TEAM = [("mei.wang@team.example", "Mei Wang (demo)",
         ("huadong.example", "xinghe.example", "fabrikam.example")),
        ("tom.baker@team.example", "Tom Baker (demo)", ("northwind.example", "fabrikam.example"))]

# (category, lang) -> (subject, body) pairs the clients write.
MAIL: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("issue", "en"): [
        ("Invoice export stops at 1,000 rows",
         "Hi,\n\nthe invoice export stops after 1,000 rows since Monday; the file is cut off without "
         "an error. Can you look into it?\n"),
        ("Login page shows error 500",
         "Hello,\n\nseveral of our users get an error 500 after signing in this morning. Nobody can "
         "reach the dashboard.\n"),
        ("Reports are empty after the update",
         "Hi team,\n\nafter last night's update the weekly report is empty for every warehouse. The "
         "data is there in the list view.\n"),
        ("Upload of delivery notes fails",
         "Hello,\n\nuploading a delivery note PDF fails with 'file too large' even for a 200 KB file.\n"),
    ],
    ("issue", "zh"): [
        ("系统登录后一直报错",
         "您好：\n\n今天上午开始，系统登录后一直显示错误，所有同事都无法进入首页，请尽快处理。\n"),
        ("导出的报表数据不全", "你好，\n\n导出的月度报表只有前一千行，后面的数据都没有了，麻烦看一下。\n"),
        ("手机端页面打不开", "您好，\n\n从昨天开始手机端的订单页面一直打不开，一直在加载。\n"),
    ],
    ("change_request", "en"): [
        ("Add a VAT number field to the customer form", "Hi,\n\ncould you add a VAT number field to the "
         "customer form? Our auditors ask for it on every invoice.\n"),
        ("Change request: export to Excel",
         "Hello,\n\nwe would like the order list to export to Excel as well as CSV. Please send us "
         "an estimate.\n"),
        ("Please add single sign-on with Azure AD", "Hi team,\n\nwe would like our staff to sign in with our "
         "Azure AD accounts. What would it take?\n"),
    ],
    ("change_request", "zh"): [
        ("希望增加批量导入功能",
         "您好，\n\n我们希望能增加订单批量导入的功能，每次手动录入太慢了。请评估一下工作量和费用。\n"),
        ("需求变更：报表增加按区域统计",
         "你好，\n\n月度报表希望增加按区域统计的页面，方便管理层查看，请报个价。\n"),
    ],
    ("question", "en"): [
        ("How do I reset a user's password?",
         "Hi,\n\nhow can an administrator reset the password of one of our users? I could not find "
         "it in the settings.\n"),
        ("Question about the API rate limit",
         "Hello,\n\nhow many API calls per minute may we make before we are limited? We are planning "
         "a nightly sync.\n"),
        ("Where can I find last year's invoices?", "Hi,\n\nour accountant needs last year's invoices. Where "
         "can I download them?\n"),
    ],
    ("question", "zh"): [
        ("请问如何添加新用户？", "您好，\n\n请问管理员在哪里可以添加新用户？我们新来了两位同事。\n"),
        ("接口调用次数有限制吗？",
         "你好，\n\n请问接口每分钟最多可以调用多少次？我们准备做每晚的数据同步。\n"),
        ("发票在哪里下载？", "您好，\n\n请问去年的发票在哪里可以下载？财务需要。\n"),
    ],
    ("feedback", "en"): [
        ("Thanks for the quick fix",
         "Hi,\n\njust wanted to say thanks: the new dashboard is much faster and the team loves it.\n"),
        ("Feedback on the new order screen", "Hello,\n\nthe new order screen is clearer, although the save "
         "button is a bit hard to find. Overall a good change.\n"),
    ],
    ("feedback", "zh"): [
        ("新版本很好用", "您好，\n\n新版本的界面很清楚，速度也快了很多，同事们都很满意，谢谢！\n"),
        ("对新报表的建议", "你好，\n\n新报表很好用，就是字体有点小，希望以后可以调整。总体很满意。\n"),
    ],
}
# Texts too vague to say what they are: they come in unsure, and a PM corrects or confirms them.
VAGUE = {"en": [("Quick one", "Hi,\n\ncan we talk about the thing from last week's call? It is urgent.\n"),
                ("Our account", "Hello,\n\nsomething is off with our account, please get back to me.\n")],
         "zh": [("关于上次的事情", "您好，\n\n上次电话里说的那件事，现在情况怎么样了？\n"),
                ("账户的问题", "你好，\n\n我们的账户好像有点问题，请联系我。\n")]}
ANSWERS = {
    "en": {"issue": "Thank you for the report. We found the cause and are working on a fix; we will tell you "
                    "as soon as it is deployed.",
           "question": "Thank you for your question. We have written the steps up in the help centre "
                       "(Help > Frequently asked). Let us know if anything is unclear.",
           "feedback": "Thank you very much for your feedback; we have passed it on to the team.",
           "change_request": "Thank you; we are assessing the change and will send you the impact shortly."},
    "zh": {"issue": "感谢您的反馈。我们已经找到原因，正在修复，上线后会第一时间通知您。",
           "question": "感谢您的提问。具体步骤请见帮助中心的“常见问题”。如有不清楚的地方请随时联系我们。",
           "feedback": "非常感谢您的反馈，我们已经转告团队。",
           "change_request": "谢谢，我们正在评估这项变更，稍后会把影响评估发给您。"},
}
ASSESSMENTS = {"en": ("Two screens and the export change; tested on staging first.", "EUR 3,400", "3 weeks"),
               "zh": ("修改两个页面和导出功能，先在测试环境验证。", "人民币 24,000 元", "3 周")}
DECISIONS = {"en": ("We approve, please go ahead.", "Sorry, we reject this for now; there is no budget."),
             "zh": ("同意，请开始实施。", "不同意，今年的预算不够。")}
# The moves that end the work on an item of each category (change requests end by the client's decision).
DONE_STEPS = {"issue": ("resolved",), "question": ("answered",), "feedback": ("acknowledged", "closed")}
CANNED = [("Fix deployed", "issue", "en", "Hello {name},\n\nthe fix for {ref} is deployed. Could you check "
           "that it works for you?"),
          ("已修复", "issue", "zh", "{name}您好：\n\n{ref} 的问题已经修复上线，请您确认一下是否正常。"),
          ("More details", "", "en",
           "Hello {name},\n\nto look into {ref} we need a few more details: when did it happen, and "
           "what did you see?")]


@dataclass
class Plan:
    """One item of the history: what the client wrote, when, and what the team did with it."""

    n: int
    category: str
    lang: str
    domain: str
    contact: tuple[str, str]
    subject: str
    body: str
    received: datetime
    unsure: bool            # came in below the review threshold
    predicted: str          # what the classifier said (differs from CATEGORY for some unsure ones)
    ack_after: float        # seconds
    answer_after: float | None
    resolve_after: float | None
    by_mail: bool           # the PM answered from their own mail client
    decision: str           # for change requests: approved, rejected or "" (still awaiting)
    rating: int | None


def seeded(factory: sessionmaker[Session]) -> int:
    """How many items the demo history holds (0 when it was never seeded)."""
    with factory() as session:
        box = session.scalar(select(Mailbox.id).where(Mailbox.name == MAILBOX))
        if box is None:
            return 0
        marks = select(func.count()).select_from(Event).where(Event.kind == "note", Event.actor == "demo")
        return int(session.scalar(marks) or 0)


def plans(now: datetime, rng: random.Random) -> list[Plan]:
    """The history's items, oldest first: one a day over WEEKS weeks, every category in both languages."""
    out: list[Plan] = []
    start = now - timedelta(weeks=WEEKS)
    keys = list(MAIL)
    for n in range(7 * WEEKS):
        category, lang = keys[n % len(keys)]
        # Some came in unsure (a PM corrected or confirmed them); two of the last ten, in both languages, stay
        # unsure and untouched below: Needs review has them.
        recent = n >= 7 * WEEKS - 10
        unsure = rng.random() < 0.15 and not recent or n in (7 * WEEKS - 4, 7 * WEEKS - 9)
        wrong = unsure and rng.random() < 0.6
        subject, body = rng.choice(VAGUE[lang] if unsure else MAIL[(category, lang)])
        domains = [d for d, (name, _) in CLIENTS.items() if (lang == "zh") == (not name.isascii())]
        domain = rng.choice(domains)
        day = start + timedelta(days=n + rng.uniform(0, 0.8))
        # During the client's office hours: Beijing for Chinese mail, European mornings and afternoons else.
        hour = rng.uniform(1, 9) if lang == "zh" else rng.uniform(7, 16)
        received = day.replace(hour=int(hour), minute=int(hour % 1 * 60), second=rng.randrange(60),
                               microsecond=0)
        if received > now - timedelta(hours=30):  # the last day is the live samples' (and warnings') time
            received = now - timedelta(hours=30 + rng.uniform(0, 20))
        age = (now - received).total_seconds() / H
        late_ack = rng.random() < 0.05
        answer = rng.lognormvariate(0.7, 1.0) * H  # a median of 2 hours; one in four after 4 hours
        answered = age > 2 * 24 or rng.random() < 0.6
        resolve = rng.lognormvariate(2.8, 0.9) * H  # a median of 16 hours after the answer
        # Done at least three hours ago: the survey an hour later has gone out too.
        # The last five days' items are still worked on: their clocks run (on track, at risk or breached); the
        # change requests of the last ten await the client's decision.
        resolved = (answered and age > 5 * 24 and answer + resolve < (age - 3) * H
                    and not (recent and category == "change_request"))
        out.append(Plan(
            n=n, category=category, lang=lang, domain=domain, contact=rng.choice(CLIENTS[domain][1]),
            subject=subject, body=body, received=received, unsure=unsure,
            predicted=rng.choice([c for c in LABELS if c != category]) if wrong else category,
            ack_after=rng.uniform(20, 40) * 60 if late_ack else rng.uniform(2, 30),
            answer_after=answer if answered and answer < age * H - 1800 else None,
            resolve_after=resolve if resolved else None, by_mail=rng.random() < 0.25,
            decision=rng.choice(["approved", "approved", "rejected"]) if resolved else "",
            rating=rng.choice([5, 5, 4, 4, 4, 3, 2, 1]) if resolved and rng.random() < 0.6 else None))
    for p in out[-12:]:
        if p.unsure:
            p.answer_after = p.resolve_after = None
    return out


def seed(factory: sessionmaker[Session], cfg: Config, now: datetime | None = None) -> int:
    """Stores the history (once); returns how many items it made."""
    if seeded(factory):
        return 0
    now = now or utcnow()
    rng = random.Random(SEED)
    items = plans(now, rng)
    with time_machine.travel(items[0].received - timedelta(days=1), tick=False):
        people = _setup(factory)
    settings = client_mail_settings(cfg, factory)
    out = Outgoing(cfg.smtp.from_address, cfg.acknowledgment.team_name, client=settings,
                   team_names=cfg.acknowledgment.team_names)
    for p in items:
        _history(factory, cfg, out, p, people, now)
    check_sla(factory, cfg, now)  # the states the queue shows; warnings on old items are recorded, not sent
    return len(items)


def _setup(factory: sessionmaker[Session]) -> dict[str, Viewer]:
    """The clients' organizations, the team (no passwords: nobody signs in as them) and canned replies."""
    with factory.begin() as session:
        lock_mailbox(session, MAILBOX)
        orgs = {}
        for domain, (name, _) in CLIENTS.items():
            org = session.scalar(select(Organization).where(Organization.domain == domain))
            if org is None:
                org = Organization(name=name, domain=domain)
                session.add(org)
            orgs[domain] = org
        session.flush()
        for email, name, domains in TEAM:
            if session.scalar(select(User).where(User.email == email)) is None:
                session.add(User(email=email, name=name, role="pm", password_hash=None,
                                 organizations=[orgs[d] for d in domains]))
        for name, category, lang, body in CANNED:
            session.add(ReplyTemplate(name=name, category=category, lang=lang, body=body, created_by="demo"))
    with factory() as session:
        users = session.scalars(select(User).where(User.email.in_([t[0] for t in TEAM]))
                                .options(selectinload(User.organizations))).all()
        return {d: viewer_of(u) for u in users for d in (o.domain for o in u.organizations)}


def _mail(sender: tuple[str, str], to: str, subject: str, body: str, when: datetime, msgid: str,
          in_reply_to: str = "", cc: str = "") -> bytes:
    """A message as a client (or a PM, from their own mail client) would have sent it."""
    msg = EmailMessage()
    msg["From"] = f"{sender[0]} <{sender[1]}>"
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = msgid
    if in_reply_to:
        msg["In-Reply-To"] = msg["References"] = in_reply_to
    msg["X-Demo-Data"] = "yes"
    msg.set_content(body)
    return msg.as_bytes()


def _take_in(factory: sessionmaker[Session], cfg: Config, raw: bytes, uid: int, when: datetime,
             pred: Prediction | None) -> str:
    """Stores RAW as the worker would have at WHEN; the item's reference."""
    with time_machine.travel(when, tick=False), factory.begin() as session:
        box = lock_mailbox(session, MAILBOX)
        parsed = parse_one(RawMail(MAILBOX, 1, uid, raw, when, len(raw)), cfg, cfg.own_addresses())
        outcome = store_one(session, cfg, box.id, parsed, pred, when)
        box.last_uid = max(box.last_uid, uid)
        return outcome.ref


def _handed(factory: sessionmaker[Session], ref: str, until: datetime, delay: float) -> None:
    """What the outbox held for REF and was due by UNTIL went out DELAY seconds after it was due, as the
    sender books it (sent; for an acknowledgment, the item's acknowledgment time)."""
    with factory() as session:
        due = session.execute(select(OutboxMail.id, OutboxMail.next_attempt_at).join(Item)
                              .where(Item.ref == ref, OutboxMail.status == "pending",
                                     OutboxMail.next_attempt_at <= until)).all()
    engine = factory.kw["bind"]
    for row_id, at in due:
        mark_handed(engine, row_id, at + timedelta(seconds=delay))
    book_handed(engine, [r[0] for r in due])


def _history(factory: sessionmaker[Session], cfg: Config, out: Outgoing, p: Plan, people: dict[str, Viewer],
             now: datetime) -> None:
    """P's item: the client's mail, its acknowledgment, and the team's work on it, each at its time."""
    support = cfg.smtp.from_address
    name, local = p.contact
    client = (name, f"{local}@{p.domain}")
    msgid = f"<demo-history-{p.n:03d}@{p.domain}>"
    confidence = round(random.Random(p.n).uniform(0.42, 0.74) if p.unsure else
                       random.Random(p.n).uniform(0.84, 0.99), 3)
    rest = (1 - confidence) / (len(LABELS) - 1)
    pred = Prediction(label=p.predicted, confidence=confidence, lang=p.lang, model_version=MODEL_VERSION,
                      scores={c: confidence if c == p.predicted else rest for c in LABELS})
    ref = _take_in(factory, cfg, _mail(client, support, p.subject, p.body, p.received, msgid),
                   3 * p.n + 1, p.received, pred)
    with factory.begin() as session:
        item = session.scalar(select(Item).where(Item.ref == ref))
        assert item is not None
        session.add(Event(item_id=item.id, kind="note", actor="demo", created_at=p.received,
                          data={"text": MARK}))
    _handed(factory, ref, p.received, p.ack_after)
    pm = people[p.domain]
    clock = p.received + timedelta(minutes=random.Random(p.n).uniform(5, 40))
    if clock > now:
        return

    def at(when: datetime) -> time_machine.travel:
        return time_machine.travel(when, tick=False)

    with at(clock):
        assign(factory, pm, ref, pm.id)
        if p.unsure and p.answer_after is not None:
            correct_category(factory, ref, p.category, pm.email, client=out.client)
    _handed(factory, ref, clock, 3)
    if p.answer_after is None:
        return
    answered = max(p.received + timedelta(seconds=p.answer_after), clock + timedelta(minutes=5))
    if p.category == "change_request":
        scope, cost, schedule = ASSESSMENTS[p.lang]
        with at(answered):
            save_assessment(factory, pm, ref, scope, cost, schedule)
        with at(answered + timedelta(minutes=20)):
            send_assessment(factory, pm, ref, out)
        _handed(factory, ref, answered + timedelta(minutes=20), 2)
    elif p.by_mail:  # from the PM's own mail client, with the support address in copy
        raw = _mail((pm.name, pm.email), client[1], f"Re: [{ref}] {p.subject}", ANSWERS[p.lang][p.category],
                    answered, f"<demo-history-{p.n:03d}-answer@intake.localhost>", msgid, cc=support)
        _take_in(factory, cfg, raw, 3 * p.n + 2, answered, None)
    else:
        with at(answered):
            reply(factory, pm, ref, ANSWERS[p.lang][p.category], out)
        _handed(factory, ref, answered, 2)
    if p.category == "issue":
        with at(answered + timedelta(minutes=1)):
            change_status(factory, pm, ref, "in_progress", client=out.client)
    if p.resolve_after is None:
        return
    done = answered + timedelta(seconds=p.resolve_after)
    if p.category == "change_request":
        text = DECISIONS[p.lang][0 if p.decision == "approved" else 1]
        raw = _mail(client, support, f"Re: [{ref}] {p.subject}", text, done,
                    f"<demo-history-{p.n:03d}-decision@{p.domain}>", msgid)
        _take_in(factory, cfg, raw, 3 * p.n + 3, done, None)
        built = done + timedelta(days=4)
        if p.decision == "approved" and built < now - timedelta(hours=2):
            with at(built):
                change_status(factory, pm, ref, "implemented", client=out.client)
    else:
        for step in DONE_STEPS[p.category]:
            with at(done):
                change_status(factory, pm, ref, step, client=out.client)
    _handed(factory, ref, now, 5)  # the client's update, and the survey an hour later
    if p.rating is not None:
        _rated(factory, out, ref, p.rating, done + timedelta(hours=random.Random(p.n).uniform(2, 30)), now)
        _handed(factory, ref, now, 5)  # the PM's email about a poor rating


def _rated(factory: sessionmaker[Session], out: Outgoing, ref: str, rating: int, when: datetime,
           now: datetime) -> None:
    """The client clicked RATING in the survey at WHEN (when that is past and the survey went out)."""
    if when > now or out.client is None:
        return
    with factory.begin() as session:
        found = session.execute(select(Survey, Item).join(Item)
                                .join(OutboxMail, Survey.outbox_id == OutboxMail.id)
                                .where(Item.ref == ref, OutboxMail.status == "sent")).first()
        if found is not None:
            rate(session, found[0], found[1], rating, out.client, when)
