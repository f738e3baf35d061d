from django.contrib.auth import get_user_model, login
from django.http import HttpResponseRedirect
from django.urls import include, path


def test_login(request, username):
    """The provider's own sign-in, reduced to naming the person (what is under test is the relying party)."""
    user = get_user_model().objects.get(username=username)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return HttpResponseRedirect(request.GET.get("next", "/"))


urlpatterns = [
    path("login/as/<str:username>/", test_login),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
]
