// Package server is a stand-in for the runner wrapper's gRPC server: it
// accepts no connections.
package server

import (
	"net"

	"github.com/sirupsen/logrus"
)

// Server would serve the wrapper API.
type Server struct {
	log logrus.FieldLogger
}

// New returns a server.
func New(log logrus.FieldLogger, _ any) *Server { return &Server{log: log} }

// Listen closes l: the API is not available in this build.
func (s *Server) Listen(l net.Listener) {
	s.log.Warn("the wrapper's gRPC API is not available in this gitlab-runner build (runner_wrapper/api stand-in)")
	_ = l.Close()
}

// Stop does nothing.
func (s *Server) Stop() {}
