"""The calendar's first content: every year the ``chinesecalendar`` package knows (2004–2026 in 1.11.0).

Used by the migration that creates the calendar (with its historical models) and whenever the
calendar tables are found empty (a flushed database, as after a transactional test): an empty
calendar would silently treat every Spring Festival as working days.
"""

from __future__ import annotations

SEED_SOURCE = "《国务院办公厅关于{year}年部分节假日安排的通知》, as transcribed by the chinesecalendar package"

# The package names holidays in English; the calendar keeps the Chinese names people use.
HOLIDAY_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}


def seed_calendar(day_model, year_model, revision_model) -> int:
    """Fill empty calendar tables from the package; returns the days written (0 when not empty)."""
    from chinese_calendar import constants

    if revision_model.objects.exists() or year_model.objects.exists() or day_model.objects.exists():
        return 0
    days = [(day, "holiday", name) for day, name in constants.holidays.items()]
    days += [(day, "workday", name) for day, name in constants.workdays.items()]
    years = sorted({day.year for day, _kind, _name in days})
    day_model.objects.bulk_create(
        day_model(date=day, kind=kind, name=HOLIDAY_NAMES.get(name, name), source=SEED_SOURCE.format(year=day.year))
        for day, kind, name in sorted(days)
    )
    year_model.objects.bulk_create(year_model(year=year, source=SEED_SOURCE.format(year=year)) for year in years)
    revision_model.objects.create(pk=1, number=1)
    return len(days)
