"""Demo data: sign-in accounts for every role and invented pilots that fill the programme up to its goal.

Only ``bootstrap --demo`` calls these; a plain bootstrap never does. Every demo pilot is a real
county-level unit with its real GB/T 2260 code, but its designation is invented: it is flagged
``is_demo`` and its source says so, and every view and export must label it as demo data.
Demo plans and progress reports are made by ``pilots.services.demo_progress``.
"""

from __future__ import annotations

import datetime as dt
from django.contrib.auth import get_user_model
from django.db import transaction

from pilots.models import Membership, Organisation, Pilot, Prefecture
from pilots.services.registry import PROVINCE_ORGANISATION_CODE, pilot_create
from smartcity.audit import ChangeContext, audit_record, create_audited, snapshot
from tasks_app.models import Programme

DEMO_PROGRAMME_CODE = "sc-2020-3"
DEMO_SOURCE_NOTE = "演示数据,非正式认定 / demo data, not an official designation"
DEMO_INTEGRATOR_CODE = "demo-integrator"

# Real county-level units (GB/T 2260 codes), none of them in the 2020 batch, spread so that every
# prefecture has at least one pilot. Their designation is invented: (code, prefecture, zh, en, batch).
DEMO_PILOTS: tuple[tuple[str, str, str, str, int], ...] = (
    ("510302", "510300", "自贡市自流井区", "Ziliujing District, Zigong", 2021),
    ("510603", "510600", "德阳市旌阳区", "Jingyang District, Deyang", 2021),
    ("510703", "510700", "绵阳市涪城区", "Fucheng District, Mianyang", 2021),
    ("510903", "510900", "遂宁市船山区", "Chuanshan District, Suining", 2021),
    ("511002", "511000", "内江市市中区", "Shizhong District, Neijiang", 2021),
    ("511102", "511100", "乐山市市中区", "Shizhong District, Leshan", 2021),
    ("511602", "511600", "广安市广安区", "Guang'an District, Guang'an", 2021),
    ("511902", "511900", "巴中市巴州区", "Bazhou District, Bazhong", 2021),
    ("512002", "512000", "资阳市雁江区", "Yanjiang District, Ziyang", 2021),
    ("513201", "513200", "阿坝藏族羌族自治州马尔康市", "Barkam City, Aba Tibetan and Qiang Autonomous Prefecture", 2021),
    ("513301", "513300", "甘孜藏族自治州康定市", "Kangding City, Garzê Tibetan Autonomous Prefecture", 2022),
    ("510107", "510100", "成都市武侯区", "Wuhou District, Chengdu", 2022),
    ("510117", "510100", "成都市郫都区", "Pidu District, Chengdu", 2022),
    ("510421", "510400", "攀枝花市米易县", "Miyi County, Panzhihua", 2022),
    ("510521", "510500", "泸州市泸县", "Lu County, Luzhou", 2022),
    ("510802", "510800", "广元市利州区", "Lizhou District, Guangyuan", 2022),
    ("511302", "511300", "南充市顺庆区", "Shunqing District, Nanchong", 2022),
    ("511402", "511400", "眉山市东坡区", "Dongpo District, Meishan", 2022),
    ("511502", "511500", "宜宾市翠屏区", "Cuiping District, Yibin", 2022),
    ("513401", "513400", "凉山彝族自治州西昌市", "Xichang City, Liangshan Yi Autonomous Prefecture", 2022),
)

# Invented dates for the invented batches: (designated on, construction starts, construction ends).
DEMO_BATCH_DATES = {
    2021: (dt.date(2021, 12, 20), dt.date(2022, 1, 1), dt.date(2023, 12, 31)),
    2022: (dt.date(2022, 9, 15), dt.date(2022, 10, 1), dt.date(2024, 9, 30)),
}


def demo_accounts_ensure(*, password: str, context: ChangeContext | None = None) -> dict[str, int]:
    """Ensure one sign-in per role: ``province`` (reviewer), ``viewer``, ``integrator``, ``pref-<code>`` (reporters).

    Needs the organisations (``organisations_ensure``). An existing user keeps its password and its
    membership; only new users get ``password``.
    """
    context = context or ChangeContext.command()
    counts = {"users": 0, "memberships": 0, "organisations": 0}
    with transaction.atomic():
        province = Organisation.objects.get(code=PROVINCE_ORGANISATION_CODE)
        integrator = Organisation.objects.filter(code=DEMO_INTEGRATOR_CODE).first()
        if integrator is None:
            integrator = create_audited(
                instance=Organisation(
                    code=DEMO_INTEGRATOR_CODE, kind=Organisation.Kind.INTEGRATOR,
                    name_zh="演示:一网统管平台", name_en="Demo: city operations platform (一网统管)",
                ),
                context=context,
            )
            counts["organisations"] += 1
        wanted = [
            ("province", province, Membership.Role.REVIEWER),
            ("viewer", province, Membership.Role.VIEWER),
            ("integrator", integrator, Membership.Role.INTEGRATOR),
        ]
        for office in Organisation.objects.filter(kind=Organisation.Kind.PREFECTURE).select_related("prefecture"):
            wanted.append((f"pref-{office.prefecture.code}", office, Membership.Role.REPORTER))
        for username, organisation, role in wanted:
            user_created, membership_created = _demo_user_ensure(
                username=username, password=password, organisation=organisation, role=role, context=context
            )
            counts["users"] += user_created
            counts["memberships"] += membership_created
    return counts


def _demo_user_ensure(*, username: str, password: str, organisation: Organisation, role: str,
                      context: ChangeContext) -> tuple[int, int]:
    User = get_user_model()
    user_created = membership_created = 0
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(username=username)
        user.set_password(password)
        user.full_clean()
        user.save()
        after = snapshot(user)
        after.pop("password", None)  # not even a password hash belongs in the audit trail
        audit_record(context=context, action="create", instance=user, before=None, after=after)
        user_created = 1
    if not Membership.objects.filter(user=user).exists():
        create_audited(instance=Membership(user=user, organisation=organisation, role=role), context=context)
        membership_created = 1
    return user_created, membership_created


def demo_pilots_ensure(*, context: ChangeContext | None = None) -> dict[str, int]:
    """Add demo pilots until the shipped programme has as many pilots as its goal (30).

    Real pilots count first: when later real batches are loaded, fewer demo pilots are added. A
    county that already is a pilot of the programme is skipped.
    """
    context = context or ChangeContext.command()
    created = 0
    with transaction.atomic():
        programme = Programme.objects.get(code=DEMO_PROGRAMME_CODE)
        missing = programme.goal_pilot_count - Pilot.objects.filter(programme=programme).count()
        prefectures = {p.code: p for p in Prefecture.objects.all()}
        existing_codes = set(Pilot.objects.filter(programme=programme).values_list("code", flat=True))
        for code, prefecture_code, name_zh, name_en, batch_year in DEMO_PILOTS:
            if created >= missing:
                break
            if code in existing_codes:
                continue
            designated_on, construction_start, construction_end = DEMO_BATCH_DATES[batch_year]
            pilot_create(
                programme=programme,
                prefecture=prefectures[prefecture_code],
                fields={
                    "code": code, "name_zh": name_zh, "name_en": name_en, "batch_year": batch_year,
                    "state": Pilot.State.DESIGNATED, "designated_on": designated_on,
                    "construction_start": construction_start, "construction_end": construction_end,
                    "is_demo": True, "source_note": DEMO_SOURCE_NOTE,
                },
                context=context,
            )
            created += 1
    return {"pilots": created}
