from django.contrib.auth import views as auth
from django.urls import include, path

urlpatterns = [
    path("", include("orders.urls")),
    # run pages, JSON, cancel; the approvals page for managers at workflows/feedback/
    path("workflows/", include("graflow_celery.contrib.django.urls")),
    path("accounts/login/", auth.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth.LogoutView.as_view(), name="logout"),
]
