from django.db import models


class Item(models.Model):
    name = models.CharField(max_length=50)
    count = models.IntegerField(default=0)

    class Meta:
        app_label = "inventory"
