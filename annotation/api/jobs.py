"""GET /api/v1/jobs/, /api/v1/jobs/{id}/, POST /api/v1/jobs/{id}/cancel/ and /resume/
(admins)."""

from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..errors import JobNotCancellable, JobNotResumable, QueueUnavailable
from ..models import Job
from ..permissions import IsAdmin
from ..selectors import job_list
from ..services import job_cancel, job_resume
from .pagination import CheckedCursorPagination
from .serializers import JobSerializer


class JobCursorPagination(CheckedCursorPagination):
    ordering = "-id"  # newest first, as the jobs page shows them


def _job_or_404(job_id: int) -> Job:
    job = job_list().filter(pk=job_id).first()
    if job is None:
        raise NotFound(f"job {job_id} does not exist")
    return job


class JobListApi(ListAPIView):
    permission_classes = [IsAdmin]
    serializer_class = JobSerializer
    pagination_class = JobCursorPagination
    filter_backends: list = []

    def get_queryset(self):
        return job_list()


class JobDetailApi(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(responses=JobSerializer)
    def get(self, request: Request, job_id: int) -> Response:
        return Response(JobSerializer(_job_or_404(job_id)).data)


class JobCancelApi(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        request=None,
        responses={
            200: JobSerializer,
            409: OpenApiResponse(description="the job has already finished"),
        },
    )
    def post(self, request: Request, job_id: int) -> Response:
        _job_or_404(job_id)
        try:
            job = job_cancel(job_id=job_id, user=request.user)
        except JobNotCancellable as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        return Response(JobSerializer(job).data)


class JobResumeApi(APIView):
    """Queue a job's unfinished work again (a stalled or failed pipeline job)."""

    permission_classes = [IsAdmin]

    @extend_schema(
        request=None,
        responses={
            200: JobSerializer,
            409: OpenApiResponse(description="the job has finished or cannot be resumed"),
            503: OpenApiResponse(description="the task queue cannot be reached"),
        },
    )
    def post(self, request: Request, job_id: int) -> Response:
        _job_or_404(job_id)
        try:
            job = job_resume(job_id=job_id, user=request.user)
        except JobNotResumable as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        except QueueUnavailable as error:
            return Response({"detail": str(error)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        job.refresh_from_db()
        return Response(JobSerializer(job).data)


urlpatterns = [
    path("jobs/", JobListApi.as_view(), name="api-job-list"),
    path("jobs/<int:job_id>/", JobDetailApi.as_view(), name="api-job-detail"),
    path("jobs/<int:job_id>/cancel/", JobCancelApi.as_view(), name="api-job-cancel"),
    path("jobs/<int:job_id>/resume/", JobResumeApi.as_view(), name="api-job-resume"),
]
