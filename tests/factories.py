"""Factories for every model the tests need; a test states only what matters to its scenario."""

from __future__ import annotations

import datetime as dt

import factory
from django.contrib.auth import get_user_model

from pilots.models import Membership, Organisation, Pilot, Prefecture
from smartcity.audit import ChangeContext
from smartcity.auth.services import token_issue
from tasks_app.models import Department, Pillar, Programme, SubTask, SubTaskDepartment, Task

PASSWORD = "correct-horse-battery"


class ProgrammeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Programme
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"programme-{n}")
    document_number = factory.Sequence(lambda n: f"测试〔2020〕{n}号")
    title_zh = "测试指导意见"
    title_en = "Test guideline"
    goal_pilot_count = 30
    goal_deadline = dt.date(2022, 12, 31)


class PillarFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pillar

    programme = factory.SubFactory(ProgrammeFactory)
    code = factory.Sequence(lambda n: f"P{n}")
    kind = Pillar.Kind.FOCUS
    name_zh = factory.Sequence(lambda n: f"支柱{n}")
    name_en = factory.Sequence(lambda n: f"Pillar {n}")


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    programme = factory.SubFactory(ProgrammeFactory)
    pillar = factory.SubFactory(PillarFactory, programme=factory.SelfAttribute("..programme"))
    code = factory.Sequence(lambda n: f"T{n + 1}")
    name_zh = factory.Sequence(lambda n: f"任务{n}")
    name_en = factory.Sequence(lambda n: f"Task {n}")


class SubTaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SubTask

    task = factory.SubFactory(TaskFactory)
    code = factory.LazyAttributeSequence(lambda o, n: f"{o.task.code}.{n + 1}")
    name_zh = factory.Sequence(lambda n: f"子任务{n}")
    name_en = factory.Sequence(lambda n: f"Sub-task {n}")


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"dept-{n}")
    name_zh = factory.Sequence(lambda n: f"省测试厅{n}")
    name_en = factory.Sequence(lambda n: f"Provincial Test Department {n}")


class SubTaskDepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SubTaskDepartment

    subtask = factory.SubFactory(SubTaskFactory)
    department = factory.SubFactory(DepartmentFactory)
    role = SubTaskDepartment.Role.LEAD


class PrefectureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Prefecture
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"{52 + n // 90:02d}{(n % 90) + 10:02d}00")
    name_zh = factory.Sequence(lambda n: f"测试市{n}")
    name_en = factory.Sequence(lambda n: f"Test City {n}")


class PilotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pilot

    programme = factory.SubFactory(ProgrammeFactory)
    prefecture = factory.SubFactory(PrefectureFactory)
    code = factory.LazyAttributeSequence(lambda o, n: f"{o.prefecture.code[:4]}{(n % 98) + 1:02d}")
    name_zh = factory.Sequence(lambda n: f"测试县{n}")
    name_en = factory.Sequence(lambda n: f"Test County {n}")
    batch_year = 2020
    designated_on = dt.date(2021, 1, 22)
    construction_start = dt.date(2021, 1, 1)
    construction_end = dt.date(2022, 12, 31)


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    code = factory.Sequence(lambda n: f"org-{n}")
    kind = Organisation.Kind.PROVINCE
    name_zh = factory.Sequence(lambda n: f"机构{n}")
    name_en = factory.Sequence(lambda n: f"Office {n}")

    class Params:
        for_prefecture = factory.Trait(
            kind=Organisation.Kind.PREFECTURE, prefecture=factory.SubFactory(PrefectureFactory)
        )
        for_department = factory.Trait(
            kind=Organisation.Kind.DEPARTMENT, department=factory.SubFactory(DepartmentFactory)
        )
        integrator = factory.Trait(kind=Organisation.Kind.INTEGRATOR)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organisation = factory.SubFactory(OrganisationFactory)
    role = Membership.Role.VIEWER


def member(role: str, organisation: Organisation | None = None, **user_kwargs):
    """A user with a membership: ``member("reporter", prefecture_office)``."""
    if organisation is None:
        kind = {
            Membership.Role.REPORTER: "for_prefecture",
            Membership.Role.INTEGRATOR: "integrator",
        }.get(role)
        organisation = OrganisationFactory(**({kind: True} if kind else {}))
    return MembershipFactory(role=role, organisation=organisation, user=UserFactory(**user_kwargs)).user


def bearer(user, *, can_write: bool = False) -> str:
    """An Authorization header value for a freshly issued token of ``user``."""
    _token, key = token_issue(user=user, can_write=can_write, context=ChangeContext.command())
    return f"Bearer {key}"
