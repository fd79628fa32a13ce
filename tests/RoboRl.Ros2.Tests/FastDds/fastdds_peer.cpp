// A ROS 2 robot as it appears on Fast DDS (ROS 2's default middleware), built by FastDdsPeer.cs at test time against
// libfastrtps with the types fastddsgen generated from the IDL RoboRl writes for its registry. Entities are named and
// configured as rmw_fastrtps does: ROS topics as "rt/<name>", types "pkg::msg::dds_::Name_", ROS QoS profiles spelled
// out (Fast DDS's own defaults differ: its writers default to transient-local), asynchronous publishing (Humble's
// default), UDP on 127.0.0.1 only, shared memory and data sharing off. Domain: ROS_DOMAIN_ID.
//
//   fastdds_peer diffbot GOAL_X GOAL_Y volatile|transient_local SECONDS
//       A differential-drive robot: a unicycle integrated at 100 Hz from /cmd_vel, /odom at 50 Hz, /scan (360 beams in a
//       6 x 6 m square room, +inf beyond 3.5 m) at 10 Hz; one /goal_pose written right after start; the node's latched
//       /diagnostics start-up status printed when it changes.
//   fastdds_peer quad SECONDS
//       A quadrotor under namespace cf1: /cf1/pose at 100 Hz whose z is 1 + the first value of the last roborl_msgs/Action
//       received on /cf1/cmd_action (so commands come back in the pose), one latched /cf1/goal_pose at start.
//   fastdds_peer quadbridge NAMESPACE GOAL_X GOAL_Y GOAL_Z
//       The ROS 2 side of a quadrotor whose physics runs in the test: each stdin line "state PX PY PZ QX QY QZ QW VX VY VZ
//       WX WY WZ" (velocity and rates in the body frame) goes out at once on /NAMESPACE/pose and /NAMESPACE/odom (sensor
//       data QoS); every /NAMESPACE/cmd_action is printed as "action TICK N V... source S"; one latched
//       /NAMESPACE/goal_pose is written at start. Also printed: "matched" once all its endpoints matched the node's, the
//       node's /NAMESPACE/cmd_position as "setpoint X Y Z" when it changes, each /diagnostics status as
//       "diag HARDWARE_ID LEVEL MESSAGE[ | reason: REASON]". Exits at the end of stdin.
//   fastdds_peer goal_once volatile|transient_local none|match|ready HOLD_SECONDS
//       One /goal_pose, written at once (none), once its writer matched a reader (match: what `ros2 topic pub --once`
//       waits for), or once the node's /diagnostics says it knows this writer (ready: goal_publishers >= 1); its stamp
//       is the write time. Stays HOLD_SECONDS so that the writer can repair the sample, then exits.
//
// Environment: PEER_HEARTBEAT_MS sets the reliable writers' heartbeat period (default: Fast DDS's 3 s).
// Output: one line per event on stdout, flushed, times in ns since the epoch.

#include <fastdds/dds/domain/DomainParticipant.hpp>
#include <fastdds/dds/domain/DomainParticipantFactory.hpp>
#include <fastdds/dds/publisher/DataWriter.hpp>
#include <fastdds/dds/publisher/Publisher.hpp>
#include <fastdds/dds/subscriber/DataReader.hpp>
#include <fastdds/dds/subscriber/SampleInfo.hpp>
#include <fastdds/dds/subscriber/Subscriber.hpp>
#include <fastdds/dds/topic/TypeSupport.hpp>
#include <fastdds/rtps/transport/UDPv4TransportDescriptor.h>
#include <fastrtps/utils/IPLocator.h>

#include <iostream>

#include <chrono>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "typesPubSubTypes.h"

using namespace eprosima::fastdds::dds;
using eprosima::fastrtps::rtps::IPLocator;
using eprosima::fastrtps::rtps::Locator_t;

namespace gm = geometry_msgs::msg::dds_;

static long long now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

template <class H> static void stamp(H &header, long long ns, const char *frame) {
  header.stamp().sec((int32_t)(ns / 1000000000LL));
  header.stamp().nanosec((uint32_t)(ns % 1000000000LL));
  header.frame_id(frame);
}

enum class Qos { Default, SensorData, Latched };

struct Peer {
  DomainParticipant *participant = nullptr;
  Publisher *publisher = nullptr;
  Subscriber *subscriber = nullptr;
  std::map<std::string, Topic *> topics;

  Peer() {
    const char *dom = std::getenv("ROS_DOMAIN_ID");
    DomainParticipantQos pq = PARTICIPANT_QOS_DEFAULT;
    pq.name("fastdds_peer");
    // UDP on loopback only (no shared memory): the Cyclone DDS side listens on 127.0.0.1, unicast (Ros2Loopback).
    pq.transport().use_builtin_transports = false;
    auto udp = std::make_shared<eprosima::fastdds::rtps::UDPv4TransportDescriptor>();
    udp->interfaceWhiteList.push_back("127.0.0.1");
    udp->maxInitialPeersRange = 32;  // Cyclone's participant indices on this host: 0..31
    pq.transport().user_transports.push_back(udp);
    Locator_t peer;
    peer.kind = LOCATOR_KIND_UDPv4;
    IPLocator::setIPv4(peer, 127, 0, 0, 1);
    pq.wire_protocol().builtin.initialPeersList.push_back(peer);
    participant = DomainParticipantFactory::get_instance()->create_participant(dom ? std::atoi(dom) : 0, pq);
    if (!participant) { std::fprintf(stderr, "create_participant failed\n"); std::exit(1); }
    publisher = participant->create_publisher(PUBLISHER_QOS_DEFAULT);
    subscriber = participant->create_subscriber(SUBSCRIBER_QOS_DEFAULT);
  }

  ~Peer() {
    participant->delete_contained_entities();
    DomainParticipantFactory::get_instance()->delete_participant(participant);
  }

  template <class PubSubType> Topic *topic(const std::string &name) {
    auto found = topics.find(name);
    if (found != topics.end()) return found->second;
    TypeSupport type(new PubSubType());
    type.register_type(participant);
    Topic *t = participant->create_topic(name, type.get_type_name(), TOPIC_QOS_DEFAULT);
    if (!t) { std::fprintf(stderr, "create_topic %s failed\n", name.c_str()); std::exit(1); }
    return topics[name] = t;
  }

  // rmw's profiles: default = reliable, volatile, keep-last 10; sensor data = best effort, volatile, keep-last 5.
  template <class Q> static void apply(Q &q, Qos qos, bool durable) {
    q.reliability().kind = qos == Qos::SensorData ? BEST_EFFORT_RELIABILITY_QOS : RELIABLE_RELIABILITY_QOS;
    q.durability().kind = durable ? TRANSIENT_LOCAL_DURABILITY_QOS : VOLATILE_DURABILITY_QOS;
    q.history().kind = KEEP_LAST_HISTORY_QOS;
    q.history().depth = qos == Qos::SensorData ? 5 : qos == Qos::Latched ? 1 : 10;
    q.data_sharing().off();
  }

  template <class PubSubType> DataWriter *writer(const std::string &name, Qos qos, bool durable = false) {
    DataWriterQos q = DATAWRITER_QOS_DEFAULT;
    apply(q, qos, durable);
    q.publish_mode().kind = ASYNCHRONOUS_PUBLISH_MODE;
    // PEER_HEARTBEAT_MS: a reliable writer's heartbeat period (Fast DDS default 3 s), as an XML profile's
    // <reliability><heartbeatPeriod> would set it on a robot.
    if (const char *hb = std::getenv("PEER_HEARTBEAT_MS")) {
      long ms = std::atol(hb);
      q.reliable_writer_qos().times.heartbeatPeriod = eprosima::fastrtps::Duration_t((int32_t)(ms / 1000), (uint32_t)(ms % 1000) * 1000000u);
    }
    DataWriter *w = publisher->create_datawriter(topic<PubSubType>(name), q);
    if (!w) { std::fprintf(stderr, "create_datawriter %s failed\n", name.c_str()); std::exit(1); }
    return w;
  }

  template <class PubSubType> DataReader *reader(const std::string &name, Qos qos, bool durable = false) {
    DataReaderQos q = DATAREADER_QOS_DEFAULT;
    apply(q, qos, durable);
    DataReader *r = subscriber->create_datareader(topic<PubSubType>(name), q);
    if (!r) { std::fprintf(stderr, "create_datareader %s failed\n", name.c_str()); std::exit(1); }
    return r;
  }
};

// The node's start-up status ("<node>: start-up") from a DiagnosticArray: its message and one value.
static bool startup_status(const diagnostic_msgs::msg::dds_::DiagnosticArray_ &a, std::string &message, const char *key, std::string &value) {
  for (const auto &s : a.status()) {
    const std::string &name = s.name();
    const std::string suffix = ": start-up";
    if (name.size() < suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    message = s.message();
    for (const auto &kv : s.values()) if (kv.key() == key) value = kv.value();
    return true;
  }
  return false;
}

static bool durable_arg(const char *a) { return std::strcmp(a, "transient_local") == 0; }

static int diffbot(double goal_x, double goal_y, bool durable, double seconds) {
  Peer peer;
  DataWriter *goal = peer.writer<gm::PoseStamped_PubSubType>("rt/goal_pose", Qos::Default, durable);
  DataWriter *odom = peer.writer<nav_msgs::msg::dds_::Odometry_PubSubType>("rt/odom", Qos::Default);
  DataWriter *scan = peer.writer<sensor_msgs::msg::dds_::LaserScan_PubSubType>("rt/scan", Qos::SensorData);
  DataReader *cmd_vel = peer.reader<gm::Twist_PubSubType>("rt/cmd_vel", Qos::Default);
  DataReader *diagnostics = peer.reader<diagnostic_msgs::msg::dds_::DiagnosticArray_PubSubType>("rt/diagnostics", Qos::Latched, true);

  gm::PoseStamped_ g;
  long long t0 = now_ns();
  stamp(g.header(), t0, "odom");
  g.pose().position().x(goal_x);
  g.pose().position().y(goal_y);
  g.pose().orientation().w(1);
  goal->write(&g);
  std::printf("goal_sent %lld\n", t0);
  std::fflush(stdout);

  const double dt = 0.01, half = 3.0, range_max = 3.5;
  double x = 0, y = 0, yaw = 0, v = 0, w = 0;
  long commands = 0;
  bool moved = false;
  std::string last_status;
  sensor_msgs::msg::dds_::LaserScan_ s;
  s.angle_min(0);
  s.angle_increment((float)(2 * M_PI / 360));
  s.angle_max((float)(2 * M_PI - 2 * M_PI / 360));
  s.scan_time(0.1f);
  s.range_min(0.12f);
  s.range_max((float)range_max);
  s.ranges().resize(360);
  auto next = std::chrono::steady_clock::now();
  for (long k = 0; k * dt < seconds; k++) {
    gm::Twist_ twist;
    SampleInfo info;
    while (cmd_vel->take_next_sample(&twist, &info) == ReturnCode_t::RETCODE_OK)
      if (info.valid_data) {
        v = twist.linear().x();
        w = twist.angular().z();
        if (++commands == 1) std::printf("first_cmd_vel %lld\n", now_ns());
        if (!moved && v != 0) { moved = true; std::printf("moving %lld\n", now_ns()); }
      }
    diagnostic_msgs::msg::dds_::DiagnosticArray_ diag;
    while (diagnostics->take_next_sample(&diag, &info) == ReturnCode_t::RETCODE_OK) {
      std::string message, publishers;
      if (info.valid_data && startup_status(diag, message, "goal_publishers", publishers) && message != last_status) {
        last_status = message;
        std::printf("status %lld goal_publishers=%s %s\n", now_ns(), publishers.c_str(), message.c_str());
      }
    }
    x += v * std::cos(yaw) * dt;
    y += v * std::sin(yaw) * dt;
    yaw += w * dt;
    long long t = now_ns();
    if (k % 2 == 0) {
      nav_msgs::msg::dds_::Odometry_ o;
      stamp(o.header(), t, "odom");
      o.child_frame_id("base_footprint");
      o.pose().pose().position().x(x);
      o.pose().pose().position().y(y);
      o.pose().pose().orientation().z(std::sin(yaw / 2));
      o.pose().pose().orientation().w(std::cos(yaw / 2));
      o.twist().twist().linear().x(v);
      o.twist().twist().angular().z(w);
      odom->write(&o);
    }
    if (k % 10 == 0) {
      stamp(s.header(), t, "base_scan");
      for (int i = 0; i < 360; i++) {
        double a = yaw + i * 2 * M_PI / 360, c = std::cos(a), d = std::sin(a);
        double r = std::numeric_limits<double>::infinity();
        if (c > 1e-9) r = std::fmin(r, (half - x) / c);
        if (c < -1e-9) r = std::fmin(r, (-half - x) / c);
        if (d > 1e-9) r = std::fmin(r, (half - y) / d);
        if (d < -1e-9) r = std::fmin(r, (-half - y) / d);
        s.ranges()[i] = r > range_max ? std::numeric_limits<float>::infinity() : (float)r;
      }
      scan->write(&s);
    }
    if (k % 50 == 0) std::printf("state %.2f %.4f %.4f %.4f %ld\n", k * dt, x, y, yaw, commands);
    std::fflush(stdout);
    next += std::chrono::milliseconds(10);
    std::this_thread::sleep_until(next);
  }
  std::printf("final %.4f %.4f %ld\n", x, y, commands);
  std::fflush(stdout);
  return 0;
}

static int quad(double seconds) {
  Peer peer;
  DataWriter *goal = peer.writer<gm::PoseStamped_PubSubType>("rt/cf1/goal_pose", Qos::Default, true);
  DataWriter *pose = peer.writer<gm::PoseStamped_PubSubType>("rt/cf1/pose", Qos::SensorData);
  DataReader *actions = peer.reader<roborl_msgs::msg::dds_::Action_PubSubType>("rt/cf1/cmd_action", Qos::Default);

  gm::PoseStamped_ g;
  stamp(g.header(), now_ns(), "world");
  g.pose().position().x(0.5);
  g.pose().position().y(-0.25);
  g.pose().position().z(1.0);
  g.pose().orientation().w(1);
  goal->write(&g);
  std::printf("goal_sent\n");
  std::fflush(stdout);

  double z = 1.0;
  auto next = std::chrono::steady_clock::now();
  for (long k = 0; k * 0.01 < seconds; k++) {
    roborl_msgs::msg::dds_::Action_ a;
    SampleInfo info;
    while (actions->take_next_sample(&a, &info) == ReturnCode_t::RETCODE_OK) {
      if (!info.valid_data) continue;
      std::printf("action %llu %zu", (unsigned long long)a.tick(), a.values().size());
      for (float f : a.values()) std::printf(" %.6g", f);
      std::printf(" source %u\n", (unsigned)a.source());
      if (!a.values().empty()) z = 1.0 + a.values()[0];
    }
    gm::PoseStamped_ p;
    stamp(p.header(), now_ns(), "world");
    p.pose().position().x(1.25);
    p.pose().position().y(-0.5);
    p.pose().position().z(z);
    p.pose().orientation().w(1);
    pose->write(&p);
    std::fflush(stdout);
    next += std::chrono::milliseconds(10);
    std::this_thread::sleep_until(next);
  }
  std::printf("done\n");
  std::fflush(stdout);
  return 0;
}

static int quadbridge(const std::string &ns, double goal_x, double goal_y, double goal_z) {
  Peer peer;
  const std::string t = "rt/" + ns + "/";
  DataWriter *goal = peer.writer<gm::PoseStamped_PubSubType>(t + "goal_pose", Qos::Default, true);
  DataWriter *pose = peer.writer<gm::PoseStamped_PubSubType>(t + "pose", Qos::SensorData);
  DataWriter *odom = peer.writer<nav_msgs::msg::dds_::Odometry_PubSubType>(t + "odom", Qos::SensorData);
  DataReader *actions = peer.reader<roborl_msgs::msg::dds_::Action_PubSubType>(t + "cmd_action", Qos::Default);
  DataReader *diagnostics = peer.reader<diagnostic_msgs::msg::dds_::DiagnosticArray_PubSubType>("rt/diagnostics", Qos::Default);
  // Last: the node announces its writers together, so a setpoint seen here means the readers above are known to it too.
  DataReader *setpoints = peer.reader<crazyflie_interfaces::msg::dds_::Position_PubSubType>(t + "cmd_position", Qos::Default);

  gm::PoseStamped_ g;
  stamp(g.header(), now_ns(), "world");
  g.pose().position().x(goal_x);
  g.pose().position().y(goal_y);
  g.pose().position().z(goal_z);
  g.pose().orientation().w(1);
  goal->write(&g);

  // Only this thread prints (whole lines); the main thread reads stdin and publishes.
  std::atomic<bool> stop{false};
  std::thread printer([&] {
    bool matched = false;
    std::string last_setpoint;
    char buf[256];
    while (!stop) {
      SampleInfo info;
      roborl_msgs::msg::dds_::Action_ a;
      while (actions->take_next_sample(&a, &info) == ReturnCode_t::RETCODE_OK) {
        if (!info.valid_data) continue;
        std::string l = "action " + std::to_string((unsigned long long)a.tick()) + " " + std::to_string(a.values().size());
        for (float f : a.values()) { std::snprintf(buf, sizeof buf, " %.9g", f); l += buf; }
        l += " source " + std::to_string((unsigned)a.source());
        std::printf("%s\n", l.c_str());
      }
      diagnostic_msgs::msg::dds_::DiagnosticArray_ d;
      while (diagnostics->take_next_sample(&d, &info) == ReturnCode_t::RETCODE_OK) {
        if (!info.valid_data) continue;
        for (const auto &s : d.status()) {
          std::string l = "diag " + s.hardware_id() + " " + std::to_string((unsigned)s.level()) + " " + s.message();
          for (const auto &kv : s.values()) if (kv.key() == "reason") l += " | reason: " + kv.value();
          std::printf("%s\n", l.c_str());
        }
      }
      crazyflie_interfaces::msg::dds_::Position_ p;
      while (setpoints->take_next_sample(&p, &info) == ReturnCode_t::RETCODE_OK) {
        if (!info.valid_data) continue;
        std::snprintf(buf, sizeof buf, "setpoint %.4f %.4f %.4f", p.x(), p.y(), p.z());
        if (last_setpoint != buf) std::printf("%s\n", buf);
        last_setpoint = buf;
      }
      if (!matched) {
        PublicationMatchedStatus pm;
        SubscriptionMatchedStatus sm;
        matched = true;
        for (DataWriter *w : {goal, pose, odom}) matched = matched && w->get_publication_matched_status(pm) == ReturnCode_t::RETCODE_OK && pm.current_count > 0;
        for (DataReader *r : {actions, diagnostics, setpoints}) matched = matched && r->get_subscription_matched_status(sm) == ReturnCode_t::RETCODE_OK && sm.current_count > 0;
        if (matched) std::printf("matched %lld\n", now_ns());
      }
      std::fflush(stdout);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });

  std::string line;
  long bad = 0;
  while (std::getline(std::cin, line)) {
    double v[13];
    if (std::sscanf(line.c_str(), "state %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                    &v[7], &v[8], &v[9], &v[10], &v[11], &v[12]) != 13) {
      if (++bad <= 5) std::fprintf(stderr, "not a state line: %s\n", line.c_str());
      continue;
    }
    long long now = now_ns();
    gm::PoseStamped_ p;
    stamp(p.header(), now, "world");
    p.pose().position().x(v[0]);
    p.pose().position().y(v[1]);
    p.pose().position().z(v[2]);
    p.pose().orientation().x(v[3]);
    p.pose().orientation().y(v[4]);
    p.pose().orientation().z(v[5]);
    p.pose().orientation().w(v[6]);
    nav_msgs::msg::dds_::Odometry_ o;
    stamp(o.header(), now, "world");
    o.child_frame_id("base_link");
    o.pose().pose() = p.pose();
    o.twist().twist().linear().x(v[7]);
    o.twist().twist().linear().y(v[8]);
    o.twist().twist().linear().z(v[9]);
    o.twist().twist().angular().x(v[10]);
    o.twist().twist().angular().y(v[11]);
    o.twist().twist().angular().z(v[12]);
    odom->write(&o);
    pose->write(&p);
  }
  stop = true;
  printer.join();
  std::printf("done\n");
  std::fflush(stdout);
  return 0;
}

static int goal_once(bool durable, const char *wait, double hold) {
  Peer peer;
  DataWriter *goal = peer.writer<gm::PoseStamped_PubSubType>("rt/goal_pose", Qos::Default, durable);
  DataReader *diagnostics = nullptr;
  if (std::strcmp(wait, "ready") == 0)
    diagnostics = peer.reader<diagnostic_msgs::msg::dds_::DiagnosticArray_PubSubType>("rt/diagnostics", Qos::Latched, true);
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  if (std::strcmp(wait, "match") == 0) {
    PublicationMatchedStatus st;
    do {
      goal->get_publication_matched_status(st);
      if (st.current_count > 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    } while (std::chrono::steady_clock::now() < until);
  } else if (diagnostics) {
    bool known = false;
    while (!known && std::chrono::steady_clock::now() < until) {
      diagnostic_msgs::msg::dds_::DiagnosticArray_ diag;
      SampleInfo info;
      while (diagnostics->take_next_sample(&diag, &info) == ReturnCode_t::RETCODE_OK) {
        std::string message, publishers;
        if (info.valid_data && startup_status(diag, message, "goal_publishers", publishers) && std::atoi(publishers.c_str()) >= 1) known = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  gm::PoseStamped_ g;
  long long t = now_ns();
  stamp(g.header(), t, "map");
  g.pose().position().x(1.5);
  g.pose().position().y(-0.5);
  g.pose().orientation().w(1);
  goal->write(&g);
  std::printf("sent %lld\n", t);
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::milliseconds((long)(hold * 1000)));
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 6 && std::strcmp(argv[1], "diffbot") == 0) return diffbot(std::atof(argv[2]), std::atof(argv[3]), durable_arg(argv[4]), std::atof(argv[5]));
  if (argc >= 3 && std::strcmp(argv[1], "quad") == 0) return quad(std::atof(argv[2]));
  if (argc >= 6 && std::strcmp(argv[1], "quadbridge") == 0) return quadbridge(argv[2], std::atof(argv[3]), std::atof(argv[4]), std::atof(argv[5]));
  if (argc >= 5 && std::strcmp(argv[1], "goal_once") == 0) return goal_once(durable_arg(argv[2]), argv[3], std::atof(argv[4]));
  std::fprintf(stderr,
               "usage: fastdds_peer diffbot GOAL_X GOAL_Y volatile|transient_local SECONDS | quad SECONDS |"
               " quadbridge NAMESPACE GOAL_X GOAL_Y GOAL_Z | goal_once volatile|transient_local none|match|ready HOLD_SECONDS\n");
  return 2;
}
