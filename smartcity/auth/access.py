"""Who may do what: the one access check that every API endpoint goes through.

Two questions, answered in two places only:
- *may this actor perform this action at all?* — ``ActionPolicy``, from the rule each view declares
  for each action (``access_rules``); an unsafe action without a rule is denied;
- *which objects exist for this actor?* — the model's ``QuerySet.visible_to(actor)``, one rule
  (``smartcity.auth.scoping.ScopedQuerySet``) that each model declares its paths into. Objects outside
  an actor's scope are not forbidden but absent: another prefecture's pilot answers 404.

The vocabulary (roles, kinds of organisation) is the platform's own (``smartcity.auth.roles``); where a user
belongs is the domain's to say, through the resolver it registers (``placement_resolver_register``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

from smartcity.auth.roles import API_ONLY_ROLES, OrganisationKind, Role
from smartcity.models import ApiToken

__all__ = [
    "ANONYMOUS", "API_ONLY_ROLES", "PUBLIC", "READ", "SIGNED_IN", "ActionPolicy", "Actor", "Placement", "Role",
    "Rule", "actor_for", "actor_from_user", "placement_of", "placement_resolver_register", "rule_for", "write_rule",
]


@dataclass(frozen=True)
class Actor:
    """The caller as the access rules see it."""

    user: object
    role: str | None = None
    organisation_kind: str | None = None
    organisation_id: int | None = None
    prefecture_id: int | None = None
    department_id: int | None = None
    token: ApiToken | None = None
    is_superuser: bool = False

    @property
    def is_member(self) -> bool:
        return self.role is not None

    @property
    def sees_all_prefectures(self) -> bool:
        """Everyone with a role except a prefecture office reads across the whole province."""
        return self.is_member and self.prefecture_id is None

    @property
    def token_allows_write(self) -> bool:
        return self.token is None or self.token.can_write

    @property
    def api_only(self) -> bool:
        return self.role in API_ONLY_ROLES

    def has_role(self, *roles: str) -> bool:
        return self.role in roles


ANONYMOUS = Actor(user=None)


@dataclass(frozen=True)
class Placement:
    """Where a user belongs, as the domain records it: a role in one organisation (and that organisation's
    prefecture or department, for an office of one)."""

    role: str
    organisation_kind: str
    organisation_id: int
    prefecture_id: int | None = None
    department_id: int | None = None


# The domain's answer to "where does this user belong?" (None: nowhere). The platform defines the question
# and the domain answers it: ``pilots`` registers its resolver in ``PilotsConfig.ready()``.
_placement_resolver: Callable[[object], Placement | None] | None = None


def placement_resolver_register(resolver: Callable[[object], Placement | None]) -> None:
    global _placement_resolver
    _placement_resolver = resolver


def placement_of(user) -> Placement | None:
    """Where the domain says ``user`` belongs (None: nowhere, or no domain registered), active or not."""
    return _placement_resolver(user) if _placement_resolver is not None else None


def actor_from_user(user, token: ApiToken | None = None) -> Actor:
    if user is None or not user.is_authenticated or not user.is_active:
        return ANONYMOUS
    placement = placement_of(user)
    if placement is None:
        # A superuser with no organisation administers the province.
        if user.is_superuser:
            return Actor(
                user=user, role=Role.ADMIN, organisation_kind=OrganisationKind.PROVINCE,
                token=token, is_superuser=True,
            )
        return Actor(user=user, token=token)
    return Actor(
        user=user,
        role=placement.role,
        organisation_kind=placement.organisation_kind,
        organisation_id=placement.organisation_id,
        prefecture_id=placement.prefecture_id,
        department_id=placement.department_id,
        token=token,
        is_superuser=user.is_superuser,
    )


def actor_for(request) -> Actor:
    """The actor of a DRF or Django request, computed once per request."""
    cached = getattr(request, "_smartcity_actor", None)
    if cached is None:
        token = getattr(request, "auth", None)
        cached = actor_from_user(request.user, token if isinstance(token, ApiToken) else None)
        request._smartcity_actor = cached
    return cached


@dataclass(frozen=True)
class Rule:
    """Who may call one action. ``roles=None`` means any member; ``writes`` needs a read-write token;
    ``members_only=False`` lets in any signed-in user, member of an organisation or not; ``public`` anyone."""

    roles: frozenset[str] | None = None
    writes: bool = False
    public: bool = False
    members_only: bool = True
    description: str = field(default="", compare=False)

    def allows(self, actor: Actor) -> bool:
        if self.public:
            return True
        if not self.members_only:
            return actor.user is not None
        if not actor.is_member:
            return False
        if self.writes and not actor.token_allows_write:
            return False
        return self.roles is None or actor.role in self.roles


READ = Rule()
PUBLIC = Rule(public=True)
SIGNED_IN = Rule(members_only=False, description="any signed-in user, member of an organisation or not")


def write_rule(*roles: str) -> Rule:
    return Rule(roles=frozenset(roles), writes=True)


class ActionPolicy(BasePermission):
    """The permission class of every API view (settings.REST_FRAMEWORK)."""

    message = _("You do not have permission to perform this action.")

    def has_permission(self, request, view) -> bool:
        if not _handles_method(view, request):
            return True  # let DRF answer 405 Method Not Allowed rather than a misleading 403
        rule = rule_for(view, request)
        if rule is None:
            return False
        if rule.public:
            return True
        if not rule.members_only:
            return bool(request.user and request.user.is_authenticated)
        actor = actor_for(request)
        if request.user and request.user.is_authenticated and not actor.is_member:
            self.message = _("Your account belongs to no organisation; ask the provincial office to add it.")
            return False
        if rule.writes and actor.is_member and not actor.token_allows_write:
            self.message = _("This token is read-only.")
        return rule.allows(actor)


def _handles_method(view, request) -> bool:
    method = request.method.lower()
    action_map = getattr(view, "action_map", None)
    if action_map is not None:
        return method in action_map
    return hasattr(view, method)


def rule_for(view, request) -> Rule | None:
    rules: dict[str, Rule] = getattr(view, "access_rules", {})
    action = getattr(view, "action", None) or request.method.lower()
    rule = rules.get(action)
    if request.method in ("GET", "HEAD", "OPTIONS"):
        # An action that both reads and writes (GET and POST on one URL) declares its write rule;
        # reading it is still a read.
        return rule if rule is not None and not rule.writes else rules.get("*read", READ)
    return rule
