from django.urls import path

from orders import views

urlpatterns = [path("", views.shop, name="shop")]
