from django.db import models


class Order(models.Model):
    class Status(models.TextChoices):
        NEW = "new"
        RESERVED = "reserved"
        AWAITING_APPROVAL = "awaiting_approval"
        CHARGED = "charged"
        SHIPPED = "shipped"
        CANCELLED = "cancelled"

    item = models.CharField(max_length=100)
    quantity = models.PositiveIntegerField()
    price = models.DecimalField(max_digits=10, decimal_places=2)
    email = models.EmailField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    emailed = models.BooleanField(default=False)
    charged_at = models.DateTimeField(null=True, blank=True)
    tracking = models.CharField(max_length=40, blank=True)
    reviewed_by = models.CharField(max_length=150, blank=True)  # the manager who approved or rejected it
    run_id = models.CharField(max_length=100, blank=True)  # the order pipeline's run
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        # orders.approve_large_order: a large order's request for approval names it (workflows.py)
        permissions = [("approve_large_order", "Can approve large orders")]

    def __str__(self) -> str:
        return f"order {self.pk}: {self.quantity} x {self.item} ({self.status})"
