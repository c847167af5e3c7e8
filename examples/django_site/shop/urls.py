from django.urls import include, path

urlpatterns = [
    path("", include("orders.urls")),
    path("workflows/", include("graflow_celery.contrib.django.urls")),  # run pages, JSON, cancel
]
