"""The subtree's figures (SPEC "Figures"), rolled up and per direct child, and the .xlsx exports
of members, activities and one campaign. Real names appear only in the exports (private)."""

from __future__ import annotations

import html
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from bot.domain.clock import fmt_local, local
from bot.domain.errors import Refusal
from bot.domain.models import Org
from bot.domain.models_campaigns import Part
from bot.domain.service import ServiceBase
from bot.domain.xlsx import PCT, Book, Sheet, book, day_words, save
from bot.texts import t
from storage import cadres as cadres_repo
from storage import campaigns as campaign_repo
from storage import hours as hours_repo
from storage import orgs as org_repo
from storage import stats as repo

#: 在岗率 counts holders who acted in TowerBot within this many days
ACTIVE_DAYS = 30


def pct(part: int, whole: int) -> int:
    return round(100 * part / whole) if whole else 0


# a percentage of Figures: its name, then the count over the count it is a share of
PERCENTAGES: dict[str, tuple[str, str]] = {
    "chat_pct": ("chats", "orgs"),
    "staffed_pct": ("staffed", "orgs"),
    "member_pct": ("members_in_chat", "members"),
    "attendance_pct": ("attended", "signed_up"),
    # 配备率 of declared cadre posts (an org that declared none: its one 书记 post, so this
    # equals staffed_pct until posts are declared) and 在岗率 (acted in the last 30 days)
    "cadre_pct": ("posts_filled", "posts"),
    "active_pct": ("holders_active", "holders"),
}


class Figures(BaseModel):
    """One org's subtree, every figure rolled up (hours in quarter-hours)."""

    org: Org
    orgs: int = 0
    chats: int = 0
    staffed: int = 0
    members: int = 0
    members_in_chat: int = 0
    members_checked: int = 0  # looked at by a coverage audit; 0: coverage not checked yet
    quarters_all: int = 0
    quarters_year: int = 0
    volunteers: int = 0
    activities_held: int = 0
    signed_up: int = 0
    attended: int = 0
    on_time: int = 0
    late: int = 0
    missing: int = 0
    not_due: int = 0
    posts: int = 0
    posts_filled: int = 0
    holders: int = 0
    holders_active: int = 0

    def numbers(self) -> dict[str, int | float]:
        """Every figure by name: the counts, the PERCENTAGES and the hours (for texts, charts)."""
        counts: dict[str, int] = self.model_dump(exclude={"org"})
        shares = {
            name: pct(counts[part], counts[whole]) for name, (part, whole) in PERCENTAGES.items()
        }
        return {
            **counts,
            **shares,
            "hours_all": self.quarters_all / 4,
            "hours_year": self.quarters_year / 4,
        }


class StatsView(BaseModel):
    total: Figures
    children: list[Figures]


class Stats(ServiceBase):
    """Services behind /stats, /chart and the member/activity/campaign exports."""

    def today(self) -> date:
        return datetime.fromtimestamp(self.clock.time(), self.settings.tz).date()

    async def org_for(self, user_id: int, chat_id: int, role: str = "secretary") -> Org:
        """This chat's org, once the person is shown to hold `role` there."""
        org = await self.access.org_of_chat(chat_id)
        await self.access.require(user_id, org, role)
        return org

    async def figures(self, org: Org) -> Figures:
        year_start = date(self.today().year, 1, 1).isoformat()
        numbers = await repo.figures(
            self.db.reader, org.path, now=self.clock.time(), year_start_date=year_start
        )
        volunteers = await hours_repo.volunteers_in(self.db.reader, org.path)
        since = self.clock.time() - ACTIVE_DAYS * 86400
        numbers.update(await cadres_repo.figures(self.db.reader, org.path, since))
        return Figures(org=org, volunteers=volunteers, **numbers)

    async def view(self, org: Org) -> StatsView:
        """The subtree's figures and each direct child's."""
        kids = await org_repo.children(self.db.reader, org.id)
        return StatsView(
            total=await self.figures(org), children=[await self.figures(kid) for kid in kids]
        )

    async def tower(self, org: Org) -> list[dict[str, Any]]:
        """Each org of the subtree with its own coverage and report-back state."""
        return await repo.per_org(self.db.reader, org.path, now=self.clock.time())

    # --- exports ---------------------------------------------------------------------------

    def _plain(self, lang: str, key: str, **values: Any) -> str:
        return html.unescape(str(t(lang, key, **values)))

    def _time(self, ts: float | None) -> datetime | None:
        """A local wall-clock datetime for a date cell (None: empty)."""
        return local(ts, self.settings.tz).replace(tzinfo=None) if ts else None

    def _title(self, lang: str, org: str, what: str) -> str:
        return self._plain(lang, "xl_title", org=org, what=what, date=day_words(lang, self.today()))

    def _book(
        self,
        lang: str,
        org: str,
        what: str,
        sheet: str,
        head: str,
        formats: dict[int, str] | None = None,
    ) -> tuple[Book, Sheet]:
        """A workbook titled for `what` of `org` today, with its one sheet (`sheet`, `head`:
        the keys of the sheet's name and of its '|'-separated column headings)."""
        title = self._title(lang, org, what)
        wb = book(title)
        header = self._plain(lang, head).split("|")
        return wb, Sheet(wb, self._plain(lang, sheet), title=title, header=header, formats=formats)

    async def members_workbook(self, org: Org, lang: str) -> bytes:
        """Registered members of the subtree with role, chat presence and approved hours."""
        rows = await repo.members_rows(self.db.reader, org.path)
        wb, ws = self._book(
            lang,
            org.name,
            self._plain(lang, "xl_members_what"),
            "xl_members_sheet",
            "xl_members_head",
        )
        in_chat_count = quarters = 0
        for r in rows:
            in_chat = {"present": "xl_in_chat_yes", "missing": "xl_in_chat_no"}.get(
                r["in_chat"] or "", "xl_in_chat_unknown"
            )
            in_chat_count += r["in_chat"] == "present"
            quarters += r["quarters"]
            ws.add(
                [
                    r["org_name"],
                    r["real_name"],
                    r["phone"] or "",
                    r["first_name"],
                    r["username"] or "",
                    self._time(r["registered_at"]),
                    self._plain(lang, "xl_role_" + (r["role"] or "member")),
                    self._plain(lang, in_chat),
                    self._time(r["checked_at"]),
                    r["quarters"] / 4,
                ]
            )
        ws.total(
            [
                self._plain(lang, "xl_total"),
                self._plain(lang, "xl_people_count", n=len(rows)),
                None,
                None,
                None,
                None,
                None,
                self._plain(lang, "xl_in_chat_count", n=in_chat_count),
                None,
                quarters / 4,
            ]
        )
        ws.close()
        return save(wb)

    async def activities_workbook(self, org: Org, lang: str) -> bytes:
        """Every activity of the subtree with sign-ups and attendance (a rate as a number)."""
        rows = await repo.activities_rows(self.db.reader, org.path)
        wb, ws = self._book(
            lang,
            org.name,
            self._plain(lang, "xl_activities_what"),
            "xl_activities_sheet",
            "xl_activities_head",
            formats={13: PCT},
        )
        sums = [0, 0, 0, 0]
        for r in rows:
            marked = r["present"] + r["no_show"]
            quarters = r["quarters"]
            if r["shift_start"] is not None:  # a post's shift: its own length is credited
                quarters = max(1, int((r["shift_end"] - r["shift_start"]) // 900))
            ws.add(
                [
                    r["id"],
                    r["org_name"],
                    r["title"],
                    r["post"],
                    r["place"],
                    self._time(r["starts_at"]),
                    quarters / 4,
                    r["capacity"],
                    self._plain(lang, "xl_activity_" + r["status"]),
                    r["confirmed"],
                    r["waiting"],
                    r["present"],
                    r["no_show"],
                    r["present"] / marked if marked else None,
                ]
            )
            sums = [
                a + b
                for a, b in zip(
                    sums, (r["confirmed"], r["waiting"], r["present"], r["no_show"]), strict=True
                )
            ]
        marked = sums[2] + sums[3]
        ws.total(
            [
                self._plain(lang, "xl_total"),
                self._plain(lang, "xl_activities_count", n=len({r["id"] for r in rows})),
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                *sums,
                sums[2] / marked if marked else None,
            ]
        )
        ws.close()
        return save(wb)

    async def campaign_workbook(
        self, user_id: int | None, campaign_id: int, lang: str
    ) -> tuple[bytes, str]:
        """(xlsx, campaign title); the asker must be secretary or staff where it was created
        (None: the operator's command line)."""
        head, rows = await repo.campaign_rows(self.db.reader, campaign_id)
        if head is None:
            raise Refusal("err_stats_no_campaign", id=campaign_id)
        owner = await org_repo.get(self.db.reader, head["org_id"])
        assert owner is not None
        if user_id is not None:
            await self.access.require(user_id, owner, "secretary")
        now = self.clock.time()
        what = self._plain(
            lang,
            "xl_campaign_title",
            title=head["title"],
            due=fmt_local(head["due_at"], self.settings.tz),
        )
        wb, ws = self._book(lang, owner.name, what, "xl_campaign_sheet", "xl_campaign_head")
        counts: dict[str, int] = {}
        parts: dict[int, list[Part]] = {}  # a two-part report: each part on a row of its own
        if int(head["parts"] or 1) > 1:
            for part in await campaign_repo.parts(self.db.reader, campaign_id):
                parts.setdefault(part.org_id, []).append(part)
        for r in rows:
            if r["submitted_at"] is None:
                state = "xl_campaign_missing" if head["due_at"] <= now else "xl_campaign_not_due"
            else:
                state = "xl_campaign_late" if r["late"] else "xl_campaign_on_time"
            counts[state] = counts.get(state, 0) + 1
            ws.add(
                [
                    r["org_name"],
                    self._plain(lang, state),
                    r["real_name"] or (r["first_name"] or ""),
                    self._time(r["submitted_at"]),
                    r["versions"] or None,
                    r["file_name"] or "",
                    (r["text"] or "")[:1000],
                ]
            )
            for part in parts.get(int(r["org_id"]), []):
                ws.add(
                    [
                        "",
                        self._plain(lang, "camp_part_" + part.part),
                        part.first_name,
                        self._time(part.submitted_at),
                        part.versions,
                        part.file_name or "",
                        (part.text or "")[:1000],
                    ],
                    indent=1,
                    indent_column=1,
                )
        summary = self._plain(lang, "xl_list_sep").join(
            f"{self._plain(lang, key)} {n}" for key, n in counts.items()
        )
        ws.total([self._plain(lang, "xl_total"), summary])
        ws.close()
        return save(wb), str(head["title"])
