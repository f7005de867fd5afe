module gitlab.com/gitlab-org/step-runner

go 1.24

require (
	google.golang.org/grpc v1.83.0
	google.golang.org/protobuf v1.36.12
)
