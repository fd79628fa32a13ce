namespace RoboRl.Core.Messages;

/// <summary>Full names of the registered types, so callers never spell them by hand.</summary>
public static class RosTypes
{
    public const string Time = "builtin_interfaces/Time";
    public const string Duration = "builtin_interfaces/Duration";
    public const string Header = "std_msgs/Header";
    public const string Vector3 = "geometry_msgs/Vector3";
    public const string Quaternion = "geometry_msgs/Quaternion";
    public const string Point = "geometry_msgs/Point";
    public const string Pose = "geometry_msgs/Pose";
    public const string PoseStamped = "geometry_msgs/PoseStamped";
    public const string Twist = "geometry_msgs/Twist";
    public const string TwistStamped = "geometry_msgs/TwistStamped";
    public const string PoseWithCovariance = "geometry_msgs/PoseWithCovariance";
    public const string TwistWithCovariance = "geometry_msgs/TwistWithCovariance";
    public const string Odometry = "nav_msgs/Odometry";
    public const string Imu = "sensor_msgs/Imu";
    public const string LaserScan = "sensor_msgs/LaserScan";
    public const string Joy = "sensor_msgs/Joy";
    public const string KeyValue = "diagnostic_msgs/KeyValue";
    public const string DiagnosticStatus = "diagnostic_msgs/DiagnosticStatus";
    public const string DiagnosticArray = "diagnostic_msgs/DiagnosticArray";
    public const string Observation = "roborl_msgs/Observation";
    public const string Action = "roborl_msgs/Action";
    public const string Mode = "roborl_msgs/Mode";
    public const string TickStats = "roborl_msgs/TickStats";
    public const string GroundTruth = "roborl_msgs/GroundTruth";
    public const string CrazyflieFullState = "crazyflie_interfaces/FullState";
    public const string CrazyfliePosition = "crazyflie_interfaces/Position";
    public const string CrazyflieVelocityWorld = "crazyflie_interfaces/VelocityWorld";
    public const string CrazyflieHover = "crazyflie_interfaces/Hover";
    public const string CrazyflieStatus = "crazyflie_interfaces/Status";
    public const string CrazyflieLogDataGeneric = "crazyflie_interfaces/LogDataGeneric";
    public const string Gid = "rmw_dds_common/Gid";
    public const string NodeEntitiesInfo = "rmw_dds_common/NodeEntitiesInfo";
    public const string ParticipantEntitiesInfo = "rmw_dds_common/ParticipantEntitiesInfo";
}

/// <summary>
/// The .msg definitions RoboRl ships. The ROS 2 ones carry the same fields, types, order and constants as the files
/// named in their source (ros2/common_interfaces, ros2/rcl_interfaces); comments are our own summaries.
/// The roborl_msgs types are RoboRl's flight-log vocabulary.
/// </summary>
public static class StandardMessages
{
    private const string CommonInterfaces = "ros2/common_interfaces (rolling)";
    private const string RclInterfaces = "ros2/rcl_interfaces (rolling)";
    private const string Crazyswarm2 = "IMRCLab/crazyswarm2 (main, 2026-07)";
    private const string RmwDdsCommon = "ros2/rmw_dds_common (humble)";

    /// <summary>(full name, source, .msg text); dependencies may come in any order.</summary>
    public static IReadOnlyList<(string Name, string Source, string Text)> All { get; } =
    [
        (RosTypes.Time, $"{RclInterfaces} builtin_interfaces/msg/Time.msg", """
            # ROS time: seconds and nanoseconds.
            int32 sec
            # Nanoseconds, in [0, 1e9).
            uint32 nanosec
            """),
        (RosTypes.Duration, $"{RclInterfaces} builtin_interfaces/msg/Duration.msg", """
            # A span of time: seconds and nanoseconds.
            int32 sec
            # Nanoseconds, in [0, 1e9).
            uint32 nanosec
            """),
        (RosTypes.Header, $"{CommonInterfaces} std_msgs/msg/Header.msg", """
            # Time stamp and coordinate frame of stamped data.
            builtin_interfaces/Time stamp
            string frame_id
            """),
        (RosTypes.Vector3, $"{CommonInterfaces} geometry_msgs/msg/Vector3.msg", """
            # A free vector (only rotated by a transform).
            float64 x
            float64 y
            float64 z
            """),
        (RosTypes.Quaternion, $"{CommonInterfaces} geometry_msgs/msg/Quaternion.msg", """
            # An orientation as a unit quaternion; defaults to identity.
            float64 x 0
            float64 y 0
            float64 z 0
            float64 w 1
            """),
        (RosTypes.Point, $"{CommonInterfaces} geometry_msgs/msg/Point.msg", """
            # A position in space.
            float64 x
            float64 y
            float64 z
            """),
        (RosTypes.Pose, $"{CommonInterfaces} geometry_msgs/msg/Pose.msg", """
            # Position and orientation.
            Point position
            Quaternion orientation
            """),
        (RosTypes.PoseStamped, $"{CommonInterfaces} geometry_msgs/msg/PoseStamped.msg", """
            # A pose with time stamp and frame.
            std_msgs/Header header
            Pose pose
            """),
        (RosTypes.Twist, $"{CommonInterfaces} geometry_msgs/msg/Twist.msg", """
            # Linear and angular velocity.
            Vector3  linear
            Vector3  angular
            """),
        (RosTypes.TwistStamped, $"{CommonInterfaces} geometry_msgs/msg/TwistStamped.msg", """
            # A twist with time stamp and frame.
            std_msgs/Header header
            Twist twist
            """),
        (RosTypes.PoseWithCovariance, $"{CommonInterfaces} geometry_msgs/msg/PoseWithCovariance.msg", """
            # A pose with its uncertainty.
            Pose pose
            # 6x6 row-major covariance over (x, y, z, rotation about X, Y, Z).
            float64[36] covariance
            """),
        (RosTypes.TwistWithCovariance, $"{CommonInterfaces} geometry_msgs/msg/TwistWithCovariance.msg", """
            # A twist with its uncertainty.
            Twist twist
            # 6x6 row-major covariance over (vx, vy, vz, wx, wy, wz).
            float64[36] covariance
            """),
        (RosTypes.Odometry, $"{CommonInterfaces} nav_msgs/msg/Odometry.msg", """
            # Estimated pose (in header.frame_id) and twist (in child_frame_id).
            std_msgs/Header header
            string child_frame_id
            geometry_msgs/PoseWithCovariance pose
            geometry_msgs/TwistWithCovariance twist
            """),
        (RosTypes.Imu, $"{CommonInterfaces} sensor_msgs/msg/Imu.msg", """
            # Inertial measurement: orientation, angular velocity [rad/s], linear acceleration [m/s^2].
            # An all-zero covariance means unknown; -1 in element 0 means the estimate is absent.
            std_msgs/Header header

            geometry_msgs/Quaternion orientation
            float64[9] orientation_covariance # row major

            geometry_msgs/Vector3 angular_velocity
            float64[9] angular_velocity_covariance # row major

            geometry_msgs/Vector3 linear_acceleration
            float64[9] linear_acceleration_covariance # row major
            """),
        (RosTypes.LaserScan, $"{CommonInterfaces} sensor_msgs/msg/LaserScan.msg", """
            # One sweep of a planar range finder; angles about +Z of header.frame_id, 0 along +X.
            std_msgs/Header header # stamp = time of the first ray

            float32 angle_min        # [rad]
            float32 angle_max        # [rad]
            float32 angle_increment  # [rad]

            float32 time_increment   # [s] between rays
            float32 scan_time        # [s] between scans

            float32 range_min        # [m]
            float32 range_max        # [m]

            float32[] ranges         # [m]; outside [range_min, range_max] means invalid
            float32[] intensities    # device units; may be empty
            """),
        (RosTypes.Joy, $"{CommonInterfaces} sensor_msgs/msg/Joy.msg", """
            # Joystick axes and buttons; stamp = time of reception.
            std_msgs/Header header
            float32[] axes
            int32[] buttons
            """),
        (RosTypes.KeyValue, $"{CommonInterfaces} diagnostic_msgs/msg/KeyValue.msg", """
            # One labelled diagnostic value.
            string key
            string value
            """),
        (RosTypes.DiagnosticStatus, $"{CommonInterfaces} diagnostic_msgs/msg/DiagnosticStatus.msg", """
            # Status of one component.
            byte OK=0
            byte WARN=1
            byte ERROR=2
            byte STALE=3

            byte level
            string name
            string message
            string hardware_id
            KeyValue[] values
            """),
        (RosTypes.DiagnosticArray, $"{CommonInterfaces} diagnostic_msgs/msg/DiagnosticArray.msg", """
            # Status of several components at one time.
            std_msgs/Header header
            DiagnosticStatus[] status
            """),

        // ---- crazyswarm2's per-drone command and state topics (cmd_full_state, cmd_position, cmd_velocity_world,
        //      cmd_hover, status, log topics; cmd_vel_legacy is geometry_msgs/Twist, pose is geometry_msgs/PoseStamped)
        (RosTypes.CrazyflieFullState, $"{Crazyswarm2} crazyflie_interfaces/msg/FullState.msg", """
            # Full-state setpoint (cmd_full_state): pose, twist and acceleration, world frame.
            std_msgs/Header header
            geometry_msgs/Pose pose
            geometry_msgs/Twist twist
            geometry_msgs/Vector3 acc
            """),
        (RosTypes.CrazyfliePosition, $"{Crazyswarm2} crazyflie_interfaces/msg/Position.msg", """
            # Position setpoint (cmd_position): x, y, z [m], yaw [deg].
            std_msgs/Header header
            float32 x
            float32 y
            float32 z
            float32 yaw
            """),
        (RosTypes.CrazyflieVelocityWorld, $"{Crazyswarm2} crazyflie_interfaces/msg/VelocityWorld.msg", """
            # World-frame velocity setpoint (cmd_velocity_world) with yaw rate [deg/s].
            std_msgs/Header header
            geometry_msgs/Vector3 vel
            float32 yaw_rate
            """),
        (RosTypes.CrazyflieHover, $"{Crazyswarm2} crazyflie_interfaces/msg/Hover.msg", """
            # Hover setpoint (cmd_hover): body-frame vx, vy [m/s], yaw rate [deg/s], height above ground [m].
            std_msgs/Header header
            float32 vx
            float32 vy
            float32 yaw_rate
            float32 z_distance
            """),
        (RosTypes.CrazyflieStatus, $"{Crazyswarm2} crazyflie_interfaces/msg/Status.msg", """
            # Supervisor, battery and radio state of one Crazyflie (status topic).
            uint16 SUPERVISOR_INFO_CAN_BE_ARMED = 1
            uint16 SUPERVISOR_INFO_IS_ARMED     = 2
            uint16 SUPERVISOR_INFO_AUTO_ARM     = 4
            uint16 SUPERVISOR_INFO_CAN_FLY      = 8
            uint16 SUPERVISOR_INFO_IS_FLYING    = 16
            uint16 SUPERVISOR_INFO_IS_TUMBLED   = 32
            uint16 SUPERVISOR_INFO_IS_LOCKED    = 64

            uint8 PM_STATE_BATTERY   = 0
            uint8 PM_STATE_CHARGING  = 1
            uint8 PM_STATE_CHARGED   = 2
            uint8 PM_STATE_LOW_POWER = 3
            uint8 PM_STATE_SHUTDOWN  = 4

            std_msgs/Header header
            uint16 supervisor_info   # bit set of SUPERVISOR_INFO_*
            float32 battery_voltage  # [V]
            uint8 pm_state           # one of PM_STATE_*
            uint8 rssi               # radio signal strength [dBm]
            uint32 num_rx_broadcast  # packets in the last period
            uint32 num_tx_broadcast
            uint32 num_rx_unicast
            uint32 num_tx_unicast
            uint16 latency_unicast   # [ms]
            """),
        (RosTypes.CrazyflieLogDataGeneric, $"{Crazyswarm2} crazyflie_interfaces/msg/LogDataGeneric.msg", """
            # One sample of a custom log block; stamp = time received.
            std_msgs/Header header
            uint32 timestamp        # on-board time [ms]
            float32[] values        # in the order of the log block's variables
            """),

        // ---- rmw's node graph (ros_discovery_info). Humble's Gid has 24 bytes; Jazzy's 16 (Ros2Discovery builds that one).
        (RosTypes.Gid, $"{RmwDdsCommon} rmw_dds_common/msg/Gid.msg", """
            # A DDS entity's global id (its 16-byte GUID, zero-padded).
            char[24] data
            """),
        (RosTypes.NodeEntitiesInfo, $"{RmwDdsCommon} rmw_dds_common/msg/NodeEntitiesInfo.msg", """
            # One node and the readers and writers it owns.
            string<=256 node_namespace
            string<=256 node_name
            Gid[] reader_gid_seq
            Gid[] writer_gid_seq
            """),
        (RosTypes.ParticipantEntitiesInfo, $"{RmwDdsCommon} rmw_dds_common/msg/ParticipantEntitiesInfo.msg", """
            # The nodes living in one DDS participant.
            Gid gid
            NodeEntitiesInfo[] node_entities_info_seq
            """),

        // ---- RoboRl's flight-log vocabulary --------------------------------------------------------------------
        (RosTypes.Observation, "RoboRl", """
            # The policy input of one control tick, as built by the observation builder.
            std_msgs/Header header   # stamp = time the state was sampled
            uint64 tick              # control tick index since the node started
            float32[] values         # in the order of the policy bundle's observation spec
            """),
        (RosTypes.Action, "RoboRl", """
            # The action of one control tick: what the policy proposed, what the human commanded, what was sent.
            uint8 SOURCE_POLICY=0
            uint8 SOURCE_HUMAN=1
            uint8 SOURCE_FALLBACK=2

            std_msgs/Header header   # stamp = time the action was sent
            uint64 tick              # the tick of the observation it answers
            float32[] values         # the action applied (after safety), in the bundle's action-spec order
            float32[] policy_values  # the raw policy output (empty if the policy did not run)
            bool intervention        # true when a human overrode the policy on this tick
            float32[] human_values   # the human's action when intervention is true, else empty
            uint8 source             # which of SOURCE_* produced values
            """),
        (RosTypes.Mode, "RoboRl", """
            # A change of the node's operating mode and why.
            uint8 IDLE=0
            uint8 POLICY=1
            uint8 HUMAN=2
            uint8 FALLBACK=3
            uint8 KILLED=4
            uint8 TAKING_OFF=5       # armed on the ground: the classical controller climbs to the setpoint
            uint8 LANDING=6          # the classical controller descends; IDLE on the floor

            std_msgs/Header header
            uint8 mode               # one of the constants above
            string name              # the mode's name, for readers without the constants
            string reason            # e.g. "geofence: z > 2.0 m", "kill switch"
            """),
        (RosTypes.TickStats, "RoboRl", """
            # Control-loop timing over one reporting window.
            std_msgs/Header header
            uint64 ticks             # ticks in the window
            float32 rate_hz          # achieved tick rate
            float32 latency_p50_us   # sensor-to-actuation latency, median [us]
            float32 latency_p99_us   # 99th percentile [us]
            float32 latency_max_us   # worst [us]
            float32 jitter_p99_us    # 99th percentile |period - target period| [us]
            uint32 overruns          # ticks that missed their deadline
            """),
        (RosTypes.GroundTruth, "RoboRl", """
            # A simulated robot's true state at one control tick (no sensor noise), recorded only by simulators:
            # `roborl replay --sim` re-runs the flight from it on the same plant.
            std_msgs/Header header                      # stamp = simulated time of the state; frame_id = world
            uint64 tick                                 # the control tick it was read on (after that tick's command was sent)
            geometry_msgs/Pose pose                     # world ENU; orientation body FLU -> world
            geometry_msgs/Vector3 linear_velocity       # world frame [m/s]
            geometry_msgs/Vector3 angular_velocity      # body frame [rad/s]
            float32[] rotor_rpm                         # true rotor speeds, M1..M4 [rpm]
            builtin_interfaces/Time command_effective   # when this tick's actuator command took effect in the physics
            """),
    ];
}
